#!/usr/bin/python3
"""The monthly ledgers (台账) of 郓城县's ledger-only programme items, as county staff keep
them: .xlsx workbooks (title and blank rows above a Chinese header, merged cells, blank
cells, months as Excel serial dates and as text) and each sheet as CSV the way Excel saves
it, in GB18030 without and with BOM and in UTF-8 with BOM. docs/programme.md describes every
ledger, its columns and the figures (which townships lag, stall, stop or never report), so
that a test can work any row out by hand.

Deterministic: the same --seed, --start and --until give byte-identical files.

usage: generate.py --out DIR [--seed 2025] [--start 2025-01-01] [--until DATE]
                   [--formats xlsx,csv] [--follow URL [--every SECONDS]]

--until: the months over by this date are written (default: 12 months after --start).
--follow URL: read the simulator's clock (sim_simulated_time_seconds at URL/metrics) every
SECONDS (default 30), write the ledgers up to it whenever another month is over, and exit
when the simulator has not answered three times in a row.

Needs Debian's python3-openpyxl.
"""
import argparse
import datetime
import decimal
import io
import math
import os
import random
import re
import sys
import time
import urllib.request
import zipfile

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

COUNTY = "郓城县"
TOWNS = ["郓州街道", "唐塔街道", "张营街道", "潘渡街道", "黄安镇", "杨庄集镇", "侯咽集镇", "黄集镇",
         "李集镇", "郭屯镇", "丁里长镇", "玉皇庙镇", "程屯镇", "随官屯镇", "武安镇", "双桥镇",
         "南赵楼镇", "黄泥冈镇", "唐庙镇", "张鲁集镇", "水堡乡", "陈坡乡"]
CENTRES = [t + ("社区卫生服务中心" if t.endswith("街道") else "卫生院") for t in TOWNS]

# the townships' parts (docs/programme.md)
PARTS = {"郓州街道": "met_early", "唐塔街道": "met_early", "黄集镇": "lagging", "水堡乡": "lagging",
         "南赵楼镇": "at_risk", "陈坡乡": "stale", "张鲁集镇": "absent"}


def part(town):
    return PARTS.get(town, "ahead")


def plan_share(m, due):
    """the plan's share done at the end of month m for an item due at the end of month due"""
    return min(1.0, (m + 1) / (due + 1))


def pace(town, m, due):
    """the township's share done at the end of month m; None where it filled nothing in"""
    p = part(town)
    if p == "absent" or (p == "stale" and m >= 6):
        return None
    if p == "met_early":
        return min(1.0, (m + 1) / 6)
    if p == "lagging":
        return 0.6 * plan_share(m, due)
    if p == "at_risk":
        return 0.95 * plan_share(min(m, 5), due)
    return min(1.0, 1.1 * plan_share(m, due))


def cum(total, town, m, due):
    s = pace(town, m, due)
    return None if s is None else math.floor(total * s + 1e-9)


def monthly(total, town, m, due):
    now = cum(total, town, m, due)
    if now is None:
        return None
    return now - (cum(total, town, m - 1, due) or 0) if m > 0 else now


def filled(town, m):
    """whether the township filled in month m at all"""
    p = part(town)
    return not (p == "absent" or (p == "stale" and m >= 6))


def ratio(a, b):
    return None if a is None or not b else a / b


# ---- cells and their display -----------------------------------------------------------

class C:
    """a cell: a value and its number format"""
    __slots__ = ("v", "fmt")

    def __init__(self, v, fmt=None):
        self.v, self.fmt = v, fmt


D_YM = 'yyyy"年"m"月"'
D_YMD = "yyyy/m/d"
PCT1, PCT2, THOUS, DEC2 = "0.0%", "0.00%", "#,##0", "0.00"


def half_up(x, places):
    q = decimal.Decimal(1).scaleb(-places)
    return decimal.Decimal(repr(x)).quantize(q, rounding=decimal.ROUND_HALF_UP)


def display(cell):
    """what Excel shows for the cell, and so what its CSV holds"""
    v, fmt = (cell.v, cell.fmt) if isinstance(cell, C) else (cell, None)
    if v is None:
        return ""
    if isinstance(v, (datetime.date, datetime.datetime)):
        if fmt == D_YM:
            return "%d年%d月" % (v.year, v.month)
        return "%d/%d/%d" % (v.year, v.month, v.day)
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        if fmt == PCT1:
            return "%s%%" % half_up(v * 100, 1)
        if fmt == PCT2:
            return "%s%%" % half_up(v * 100, 2)
        if fmt == DEC2:
            return str(half_up(v, 2))
        if fmt == THOUS:
            return "{:,}".format(int(half_up(v, 0)))
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)
    return str(v)


class Sheet:
    """rows of cells (lists, ragged allowed), merges as (row, col, row, col), 1-based"""

    def __init__(self, name, ascii_name, width):
        self.name, self.ascii_name, self.width = name, ascii_name, width
        self.rows, self.merges, self.header_rows, self.col_widths = [], [], [], {}

    def add(self, cells):
        self.rows.append(list(cells))
        return len(self.rows)

    def merge(self, r1, c1, r2, c2):
        if (r1, c1) != (r2, c2):
            self.merges.append((r1, c1, r2, c2))


def frame(sheet, title, office, report_date, headers):
    """title row, reporting unit and date, a blank row, the header (one or two rows)"""
    w = sheet.width
    r = sheet.add([title])
    sheet.merge(r, 1, r, w)
    r = sheet.add(["填报单位：%s%s" % (COUNTY, office)] + [None] * (w - 3) +
                  ["填报日期：%d年%d月%d日" % (report_date.year, report_date.month, report_date.day)])
    sheet.merge(r, 1, r, w - 2)
    sheet.merge(r, w - 1, r, w)
    sheet.add([])
    for h in headers:
        sheet.header_rows.append(sheet.add(h))


def footer(sheet):
    sheet.add([])
    sheet.add(["填表人：", None, "审核人：", None, "联系电话："])


# ---- the calendar ------------------------------------------------------------------------

def add_months(y, m, k):
    t = y * 12 + (m - 1) + k
    return t // 12, t % 12 + 1


def month_end(y, m):
    ny, nm = add_months(y, m, 1)
    return datetime.date(ny, nm, 1) - datetime.timedelta(days=1)


class Cal:
    def __init__(self, start, until):
        self.start = start
        self.months = []  # (m, date of the month's last day)
        k = 0
        while True:
            y, mo = add_months(start.year, start.month, k)
            end = month_end(y, mo)
            if end + datetime.timedelta(days=1) > until:
                break
            self.months.append((k, end))
            k += 1
        if self.months:
            last = self.months[-1][1] + datetime.timedelta(days=1)
            self.report = datetime.date(last.year, last.month, 5)
        else:
            self.report = datetime.date(start.year, start.month, 5)
        self.year = start.year

    def ym(self, end):
        return C(end, D_YM)

    def ymd(self, end):
        return C(end, D_YMD)

    @staticmethod
    def text_ym(end):
        return "%d年%d月" % (end.year, end.month)

    @staticmethod
    def text_ymd(end):
        return "%d/%02d/%02d" % (end.year, end.month, end.day)

    def day_of(self, m, day):
        y, mo = add_months(self.start.year, self.start.month, m)
        return datetime.date(y, mo, day)


def noisy(rng_key, seed, base, spread):
    """base scaled by a factor in [1 - spread, 1 + spread] from the seed, rounded"""
    r = random.Random("%s:%s" % (seed, rng_key)).random()
    return int(round(base * (1 - spread + 2 * spread * r)))


# ---- the ledgers -------------------------------------------------------------------------

def by_unit(sheet, cal, units, row_of, number=True):
    """rows sorted by unit then month, the unit's cells merged over its months;
    row_of(unit_index, unit, m, end) gives the cells after 序号 and the unit's name"""
    n = 0
    for ui, u in enumerate(units):
        first = None
        for m, end in cal.months:
            cells = ([n + 1] if number else []) + [u if first is None else None] + row_of(ui, u, m, end)
            r = sheet.add(cells)
            if first is None:
                first = r
        if first is not None:
            c = 2 if number else 1
            sheet.merge(first, c, first + len(cal.months) - 1, c)
            if number:
                sheet.merge(first, 1, first + len(cal.months) - 1, 1)
        n += 1


def village_clinics(cal, seed):
    due = 10
    plan = [7 + (3 * t) % 5 + (1 if t >= 19 else 0) for t in range(22)]
    heads = ["序号", "乡镇（街道）", "月份", "计划改造数（个）", "其中：第一批（6月底前）", "本月完成（个）",
             "累计完成（个）", "完成率", "备注"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年薄弱村卫生室提升改造工作台账" % (COUNTY, cal.year), "卫生健康局基层卫生科",
          cal.report, [heads])

    def row(t, town, m, end):
        done = cum(plan[t], town, m, due)
        note = "含王㙟村卫生室" if town == "杨庄集镇" and m >= 3 else None
        return [cal.ym(end), plan[t], math.ceil(plan[t] / 2), monthly(plan[t], town, m, due), done,
                C(ratio(done, plan[t]), PCT1), note]
    by_unit(s, cal, TOWNS, row)
    footer(s)
    return [s]


def outreach(cal, seed):
    heads = ["月份", "乡镇（街道）", "健康知识讲座（场）", "“健康科普专家走基层”活动（场）", "心理健康讲座（场）",
             "结直肠癌防治宣教（场）", "受众（人次）"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年健康科普活动工作台账" % (COUNTY, cal.year), "卫生健康局宣传科", cal.report, [heads])
    order = [t for t in TOWNS[4:] + TOWNS[:4] if part(t) != "absent"]  # from 黄安镇 on
    for m, end in cal.months:
        mm = m % 12
        kinds = [0 if mm == 1 else 1, 5 if mm == 4 else 7, 1 if mm in (2, 3, 4, 6, 8, 9, 10) else 0, 2]
        counts = {t: [0, 0, 0, 0] for t in TOWNS}
        a = 0
        for kind, n in enumerate(kinds):
            for _ in range(n):
                counts[order[(7 * m + a) % len(order)]][kind] += 1
                a += 1
        first = None
        sums = [0, 0, 0, 0, 0]
        for t in TOWNS:
            if part(t) == "absent":
                cells = [None, None, None, None, None]
            else:
                c = counts[t]
                aud = noisy("outreach:%d:%s" % (m, t), seed,
                            80 * c[0] + 120 * c[1] + 80 * c[2] + 60 * c[3], 0.2)
                cells = c + [aud]
                sums = [x + y for x, y in zip(sums, cells)]
            r = s.add([Cal.text_ym(end) if first is None else None, t] + cells)
            first = first or r
        r = s.add([None, "小计"] + sums)
        s.merge(first, 1, r, 1)
    footer(s)
    return [s]


def scoliosis(cal, seed):
    due = 10
    heads = ["序号", "乡镇（街道）", "月份", "在校中小学生数（人）", "本月初筛（人）", "累计初筛（人）",
             "初筛覆盖率", "初筛阳性（人）", "中医药干预（人）"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年儿童青少年脊柱侧弯中医药筛查工作台账" % (COUNTY, cal.year), "卫生健康局中医科",
          cal.report, [heads])

    def row(t, town, m, end):
        students = 4000 + 300 * ((7 * t) % 11)
        goal = math.floor(students * 0.62)
        done = cum(goal, town, m, due)
        pos = None if done is None else done * 38 // 1000
        return [Cal.text_ymd(end), C(students, THOUS), monthly(goal, town, m, due), done,
                C(ratio(done, students), PCT2), pos, None if pos is None else pos * 7 // 10]
    by_unit(s, cal, TOWNS, row)
    footer(s)
    return [s]


def screening(cal, seed):
    top = ["序号", "乡镇（街道）", "月份", "活产数", "产前筛查", None, "新生儿遗传代谢性疾病筛查", None]
    sub = [None, None, None, None, "人数", "筛查率", "人数", "筛查率"]
    s = Sheet("台账", "ledger", len(top))
    frame(s, "%s%d年产前筛查和新生儿疾病筛查工作台账" % (COUNTY, cal.year), "卫生健康局家庭发展和妇幼健康科",
          cal.report, [top, sub])
    h1, h2 = s.header_rows
    for c in (1, 2, 3, 4):
        s.merge(h1, c, h2, c)
    s.merge(h1, 5, h1, 6)
    s.merge(h1, 7, h1, 8)

    def row(t, town, m, end):
        if not filled(town, m):
            return [cal.ymd(end)] + [None] * 5
        births = 30 + (5 * t) % 13
        lag = part(town) == "lagging"
        pre, new = math.floor(births * (0.80 if lag else 0.92)), math.floor(births * (0.85 if lag else 0.98))
        return [cal.ymd(end), births, pre, C(pre / births, PCT1), new, C(new / births, PCT1)]
    by_unit(s, cal, TOWNS, row)
    footer(s)
    return [s]


def hpv(cal, seed):
    heads = ["序号", "乡镇（街道）", "月份", "目标人数（人）", "第1剂（人）", "第2剂（人）", "调查人数（人）",
             "知晓人数（人）", "满意人数（人）"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年适龄女孩HPV疫苗免费接种工作台账" % (COUNTY, cal.year), "卫生健康局家庭发展和妇幼健康科",
          cal.report, [heads])

    def row(t, town, m, end):
        target = 150 + (11 * t) % 40
        if not filled(town, m):
            return [Cal.text_ym(end), target, None, None, None, None, None]
        f = 0.6 if part(town) == "lagging" else 1.0
        mm = m % 12
        d2 = math.floor(target * 0.9 * f * min(1.0, (mm - 1) / 3)) if mm >= 2 else 0
        d1 = math.floor(target * 0.95 * f * min(1.0, (mm - 7) / 3)) if mm >= 8 else 0
        if mm >= 9:
            survey = [30, 25, 26] if part(town) == "lagging" else [30, 28, 28]
        else:
            survey = [None, None, None]
        return [Cal.text_ym(end), target, d1, d2] + survey
    by_unit(s, cal, TOWNS, row)
    footer(s)
    return [s]


def cancer_screening(cal, seed):
    due = 10
    heads = ["序号", "乡镇（街道）", "月份", "年度目标人数（人）", "宫颈癌检查（人）", "乳腺癌检查（人）",
             "宫颈癌检查覆盖率", "乳腺癌检查覆盖率"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年农村妇女“两癌”免费检查工作台账" % (COUNTY, cal.year), "卫生健康局家庭发展和妇幼健康科",
          cal.report, [heads])
    last = {}

    def row(t, town, m, end):
        target = 1200 + 40 * ((3 * t) % 10)
        cer = cum(math.floor(target * 0.93), town, m, due)
        br = cum(math.floor(target * 0.92), town, m, due)
        last[town] = (target, cer or 0, br or 0)
        return [cal.ym(end), target, cer, br, C(ratio(cer, target), PCT1), C(ratio(br, target), PCT1)]
    by_unit(s, cal, TOWNS, row)
    if cal.months:
        tot = [sum(v[i] for v in last.values()) for i in range(3)]
        r = s.add(["合计", None, cal.ym(cal.months[-1][1])] + tot +
                  [C(tot[1] / tot[0], PCT1), C(tot[2] / tot[0], PCT1)])
        s.merge(r, 1, r, 2)
    footer(s)
    return [s]


def childcare(cal, seed):
    heads = ["序号", "乡镇（街道）", "月份", "常住人口（人）", "托育机构（个）", "托位数（个）", "其中普惠托位（个）",
             "每千人口托位数"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年托育服务发展台账" % (COUNTY, cal.year), "卫生健康局家庭发展和妇幼健康科",
          cal.report, [heads])

    def per_1000(town, m):
        p = part(town)
        if p == "lagging":
            return 4.1 + 0.2 * min(1.0, m / 9)
        if p == "met_early":
            return 4.1 + 0.9 * min(1.0, m / 5)
        if p == "at_risk":
            return 4.1 + 0.9 * min(m, 5) / 9
        return 4.1 + 0.9 * min(1.0, m / 9)

    def row(t, town, m, end):
        residents = 36000 + 2000 * ((5 * t) % 13)
        if not filled(town, m):
            return [Cal.text_ymd(end), C(residents, THOUS), None, None, None, None]
        places = math.floor(residents * per_1000(town, m) / 1000 + 1e-9)
        return [Cal.text_ymd(end), C(residents, THOUS), math.ceil(places / 60), places,
                math.floor(places * 0.6), C(places * 1000 / residents, DEC2)]
    by_unit(s, cal, TOWNS, row)
    footer(s)
    return [s]


HOSPITALS = ["郓城县人民医院", "郓城县第二人民医院", "郓城县第三人民医院"]


def pediatrics(cal, seed):
    heads = ["序号", "机构名称", "机构类别", "月份", "是否提供儿科服务", "儿科执业医师（人）", "开诊日期"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年儿科服务能力提升工作台账" % (COUNTY, cal.year), "卫生健康局基层卫生科",
          cal.report, [heads])
    units = HOSPITALS + CENTRES
    first_yes = {"黄集镇": 6, "水堡乡": None}

    def row(i, name, m, end):
        if i < 3:
            return [None if m else "二级以上公立综合医院", cal.ym(end), "是", (6, 4, 3)[i], "早于2025年"]
        t = i - 3
        town = TOWNS[t]
        kind = "社区卫生服务中心" if town.endswith("街道") else "乡镇卫生院"
        if not filled(town, m):
            return [None if m else kind, cal.ym(end), None, None, None]
        start = first_yes.get(town, 0)
        yes = start is not None and m >= start
        return [None if m else kind, cal.ym(end), "是" if yes else "否", 1 + t % 3 if yes else 0,
                C(cal.day_of(start, 1), D_YMD) if yes else None]
    by_unit(s, cal, units, row)
    # the category is merged over the unit's months, like its name
    n = len(cal.months)
    for k in range(len(units)):
        r = s.header_rows[-1] + 1 + k * n
        if n:
            s.merge(r, 3, r + n - 1, 3)
    footer(s)
    return [s]


def mental_clinics(cal, seed):
    heads = ["序号", "医院名称", "月份", "心理门诊", "睡眠门诊", "心理门诊人次", "睡眠门诊人次"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年心理门诊和睡眠门诊设置台账" % (COUNTY, cal.year), "卫生健康局医政科", cal.report, [heads])
    units = ["郓城县精神卫生中心", "郓城县人民医院", "郓城县妇幼保健院"]
    opens = {0: (0, 0), 1: (0, 5), 2: (8, None)}  # psychological, sleep: from month
    visits = {0: (300, 150), 1: (200, 80), 2: (120, 0)}

    def row(i, name, m, end):
        out = [Cal.text_ym(end)]
        for k in (0, 1):
            frm = opens[i][k]
            out.append("已开设" if frm is not None and m >= frm else "未开设")
        for k in (0, 1):
            frm = opens[i][k]
            out.append(noisy("mental:%d:%d:%d" % (i, k, m), seed, visits[i][k], 0.15)
                       if frm is not None and m >= frm else "/")
        return out
    by_unit(s, cal, units, row)
    footer(s)
    return [s]


def deposits(cal, seed):
    heads = ["序号", "医疗机构", "月份", "门诊预交金", "停止收取日期", "住院预交金平均额度（元）",
             "同病种个人自付平均水平（元）", "出院3个工作日内结算率"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年公立医疗机构预交金管理台账" % (COUNTY, cal.year), "卫生健康局财务科", cal.report, [heads])
    units = HOSPITALS + ["郓城县中医医院", "郓城县妇幼保健院", "郓城县精神卫生中心"]

    def row(h, name, m, end):
        stop = 3 if name == "郓城县中医医院" else 2
        self_paid = 1800 + 100 * h
        d0 = 2600 + 200 * h
        dep = self_paid + (d0 - self_paid) * max(0, 5 - m) / 5
        if name == "郓城县第三人民医院":
            dep = max(dep, 1.1 * self_paid)
        return [Cal.text_ymd(end), "已停止" if m >= stop else "仍收取",
                C(cal.day_of(stop, 25), D_YMD) if m >= stop else None, int(round(dep)), self_paid,
                C(0.85 + 0.12 * min(1.0, m / 10), PCT1)]
    by_unit(s, cal, units, row)
    footer(s)
    return [s]


def elderly_care(cal, seed):
    title = "%s%d年医养结合工作台账" % (COUNTY, cal.year)
    office = "卫生健康局医养结合产业科"
    # 机构
    heads = ["序号", "机构名称", "机构类型", "月份", "医疗机构执业许可证", "养老机构备案", "两证齐全", "挂牌（取证）日期"]
    inst = Sheet("机构", "institutions", len(heads))
    frame(inst, title + "（机构）", office, cal.report, [heads])
    eldercare = ["唐塔养老公寓", "郓城县中心敬老院", "李集镇敬老院", "黄安镇敬老院", "郭屯镇医养结合服务中心",
                 "程屯镇敬老院", "武安镇颐养院", "双桥镇敬老院", "郓城县康乐老年公寓"]
    licensed_from = [0, 0, 0, 0, 0, 2, 4, 9, None]  # month of the medical licence
    units = [("郓城县老年病医院（郓城县第三人民医院挂牌）", "公立老年病医院"), ("郓城县康复医院", "康复医院"),
             ("郓城县仁和护理院", "护理院")] + [(n, "医养结合机构") for n in eldercare]
    names = [u[0] for u in units]

    def row(i, name, m, end):
        kind = units[i][1]
        if i == 0:
            on = m >= 8
            return [kind if m == 0 else None, cal.ymd(end), "有", "无", "否",
                    C(cal.day_of(8, 15), D_YMD) if on else None]
        if i == 1:
            lic = m >= 9
            return [kind if m == 0 else None, cal.ymd(end), "有" if lic else "无", "无", "否",
                    C(cal.day_of(9, 20), D_YMD) if lic else None]
        if i == 2:
            return [kind if m == 0 else None, cal.ymd(end), "无", "无", "否", None]
        frm = licensed_from[i - 3]
        lic = frm is not None and m >= frm
        when = None
        if lic:
            when = C(cal.day_of(frm, 10) if frm else datetime.date(cal.year - 1, 3 + i, 1), D_YMD)
        return [kind if m == 0 else None, cal.ymd(end), "有" if lic else "无", "有",
                "是" if lic else "否", when]
    by_unit(inst, cal, names, row)
    n = len(cal.months)
    for k in range(len(names)):
        r = inst.header_rows[-1] + 1 + k * n
        if n:
            inst.merge(r, 3, r + n - 1, 3)
    footer(inst)
    # 安宁疗护
    heads = ["序号", "机构名称", "月份", "是否提供安宁疗护服务", "开展日期"]
    hos = Sheet("安宁疗护", "hospice", len(heads))
    frame(hos, title + "（安宁疗护）", office, cal.report, [heads])

    def hrow(t, name, m, end):
        town = TOWNS[t]
        if not filled(town, m):
            return [cal.ymd(end), None, None]
        frm = 0 if t < 6 else 5 + (t - 6) if t < 12 else None
        yes = frm is not None and m >= frm
        return [cal.ymd(end), "是" if yes else "否", C(cal.day_of(frm, 1), D_YMD) if yes else None]
    by_unit(hos, cal, CENTRES, hrow)
    footer(hos)
    # 老年医学科
    heads = ["序号", "医院名称", "月份", "老年医学科", "设置日期"]
    ger = Sheet("老年医学科", "geriatrics", len(heads))
    frame(ger, title + "（老年医学科）", office, cal.report, [heads])
    ger_from = [2, 5, None]

    def grow(h, name, m, end):
        frm = ger_from[h]
        yes = frm is not None and m >= frm
        return [cal.ymd(end), "已设置" if yes else "未设置", C(cal.day_of(frm, 10), D_YMD) if yes else None]
    by_unit(ger, cal, HOSPITALS, grow)
    footer(ger)
    return [inst, hos, ger]


def ambulances_5g(cal, seed):
    heads = ["序号", "医院名称", "月份", "救护车总数（辆）", "计划改造（辆）", "本月改造（辆）", "累计改造（辆）",
             "接入鲁云急救平台", "备注"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年“5G+鲁云急救”救护车升级改造台账" % (COUNTY, cal.year), "卫生健康局规划信息科",
          cal.report, [heads])
    units = ["郓城县人民医院", "郓城县中医医院"]

    def row(i, name, m, end):
        mm = m % 12
        if i == 0:
            done = min(12, 2 * (mm - 4)) if mm >= 5 else 0
            prev = min(12, 2 * (mm - 5)) if mm >= 6 else 0
            return [Cal.text_ym(end), 12, 12, done - prev, done, "是" if mm >= 5 else "否", None]
        done = 1 if mm >= 9 else 0
        return [Cal.text_ym(end), 6, 4, 1 if mm == 9 else 0, done, "是" if mm >= 9 else "否",
                "设备待招标" if 6 <= mm < 9 else None]
    by_unit(s, cal, units, row)
    footer(s)
    return [s]


def tcm_pharmacy(cal, seed):
    heads = ["序号", "机构名称", "月份", "接入共享中药房", "线上煎药（张）", "配送到家（单）"]
    s = Sheet("台账", "ledger", len(heads))
    frame(s, "%s%d年智慧共享中药房运行台账" % (COUNTY, cal.year), "卫生健康局中医科", cal.report, [heads])
    units = ["郓城县中医医院", "李集镇卫生院", "黄安镇卫生院"]
    frm = [3, 5, 8]

    def row(i, name, m, end):
        if m < frm[i]:
            return [cal.ym(end), "否", 0, 0]
        base = 800 + 60 * (m - frm[i]) if i == 0 else 120
        x = noisy("tcm:%d:%d" % (i, m), seed, base, 0.1)
        return [cal.ym(end), "是", x, math.floor(x * 0.7)]
    by_unit(s, cal, units, row)
    footer(s)
    return [s]


LEDGERS = [("village_clinics", village_clinics), ("outreach", outreach), ("scoliosis", scoliosis),
           ("screening", screening), ("hpv", hpv), ("cancer_screening", cancer_screening),
           ("childcare", childcare), ("pediatrics", pediatrics), ("mental_clinics", mental_clinics),
           ("deposits", deposits), ("elderly_care", elderly_care), ("ambulances_5g", ambulances_5g),
           ("tcm_pharmacy", tcm_pharmacy)]


# ---- writing ------------------------------------------------------------------------------

def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def xlsx_bytes(sheets, stamp):
    wb = Workbook()
    wb.remove(wb.active)
    for sh in sheets:
        ws = wb.create_sheet(sh.name)
        for r, row in enumerate(sh.rows, 1):
            for c, cell in enumerate(row, 1):
                v, fmt = (cell.v, cell.fmt) if isinstance(cell, C) else (cell, None)
                if v is None:
                    continue
                x = ws.cell(row=r, column=c, value=v)
                if fmt:
                    x.number_format = fmt
                if r in sh.header_rows or r == 1:
                    x.font = Font(bold=True, size=14 if r == 1 else 11)
                    x.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for r1, c1, r2, c2 in sh.merges:
            ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
        for c in range(1, sh.width + 1):
            ws.column_dimensions[chr(ord("A") + c - 1)].width = 14
    when = datetime.datetime(stamp.year, stamp.month, stamp.day, 9, 0, 0)
    wb.properties.creator = "郓城县卫生健康局"
    wb.properties.created = when
    wb.properties.modified = when
    wb.properties.lastModifiedBy = "郓城县卫生健康局"
    raw = io.BytesIO()
    wb.save(raw)
    # the same bytes for the same ledger: fixed times inside the zip
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                iso = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + iso, data)
            zi = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            zout.writestr(zi, data)
    return out.getvalue()


def csv_text(sh):
    """the sheet as Excel's CSV: displayed values, merged cells empty but the first,
    every row as wide as the sheet, CRLF"""
    covered = set()
    for r1, c1, r2, c2 in sh.merges:
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                if (r, c) != (r1, c1):
                    covered.add((r, c))
    lines = []
    for r, row in enumerate(sh.rows, 1):
        fields = []
        for c in range(1, sh.width + 1):
            cell = row[c - 1] if c <= len(row) else None
            t = "" if (r, c) in covered else display(cell)
            if any(ch in t for ch in ',"\r\n'):
                t = '"' + t.replace('"', '""') + '"'
            fields.append(t)
        lines.append(",".join(fields))
    return "\r\n".join(lines) + "\r\n"


ENCODINGS = [("gb18030", lambda t: t.encode("gb18030")),
             ("gb18030-bom", lambda t: ("\ufeff" + t).encode("gb18030")),
             ("utf8-bom", lambda t: ("\ufeff" + t).encode("utf-8"))]


def generate(out, seed, start, until, formats):
    os.makedirs(out, exist_ok=True)
    cal = Cal(start, until)
    written = []
    for stem, make in LEDGERS:
        sheets = make(cal, seed)
        if "xlsx" in formats:
            p = os.path.join(out, stem + ".xlsx")
            write_atomic(p, xlsx_bytes(sheets, cal.report))
            written.append(p)
        if "csv" in formats:
            for sh in sheets:
                name = stem if len(sheets) == 1 else "%s-%s" % (stem, sh.ascii_name)
                text = csv_text(sh)
                for enc, encode in ENCODINGS:
                    p = os.path.join(out, "%s.%s.csv" % (name, enc))
                    write_atomic(p, encode(text))
                    written.append(p)
    return cal, written


def sim_date(url):
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=10) as r:
        text = r.read().decode("utf-8", "replace")
    m = re.search(r"^sim_simulated_time_seconds ([0-9.e+]+)$", text, re.M)
    if not m:
        raise ValueError("no sim_simulated_time_seconds at %s/metrics" % url)
    t = datetime.datetime.fromtimestamp(float(m.group(1)), datetime.timezone(datetime.timedelta(hours=8)))
    return t.date()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--start", default="2025-01-01")
    ap.add_argument("--until")
    ap.add_argument("--formats", default="xlsx,csv")
    ap.add_argument("--follow")
    ap.add_argument("--every", type=float, default=30)
    a = ap.parse_args()
    try:
        start = datetime.date.fromisoformat(a.start)
        until = datetime.date.fromisoformat(a.until) if a.until else None
    except ValueError as e:
        sys.exit("generate.py: --start/--until: %s (want YYYY-MM-DD)" % e)
    formats = set(a.formats.split(","))
    if not formats <= {"xlsx", "csv"}:
        sys.exit("generate.py: --formats: xlsx and/or csv, not %s" % a.formats)
    if not a.follow:
        if until is None:
            y, m = add_months(start.year, start.month, 12)
            until = datetime.date(y, m, 1)
        cal, written = generate(a.out, a.seed, start, until, formats)
        print("generate.py: %d months (%s to %s), %d files in %s" %
              (len(cal.months), start, until, len(written), a.out))
        return
    months, misses = -1, 0
    while misses < 3:
        try:
            today = sim_date(a.follow)
            misses = 0
        except (OSError, ValueError):
            misses += 1
            time.sleep(a.every)
            continue
        cal = Cal(start, today)
        if len(cal.months) != months:
            months = len(cal.months)
            generate(a.out, a.seed, start, today, formats)
            print("generate.py: %d months over at %s, ledgers in %s" % (months, today, a.out), flush=True)
        time.sleep(a.every)


if __name__ == "__main__":
    main()
