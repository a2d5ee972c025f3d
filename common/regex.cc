// Regular expressions as Prometheus compiles them, over RE2 (the library
// Go's regexp was written after): a C interface (common.h, pw_regex_*) over
// one small C++ file, so label matchers, label_replace and notify matchers
// share one syntax, one anchoring and one set of limits.
//
// Prometheus compiles a matcher's or label_replace's pattern P as Go's
// regexp.Compile("^(?:" + P + ")$") and matches unanchored; we do exactly
// that, so even "a)|(b" means what it means there. RE2 runs in time linear
// in the subject and never gives up on a match: its only limit is the memory
// of the compiled program (max_mem), checked at compile time and reported
// as an error that names the expression. (When the DFA's share of that
// memory fills up during a match, RE2 falls back to its NFA: slower, still
// correct.)
#include <re2/re2.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <vector>

// The C declarations are in common.h, which C++ cannot include (_Atomic);
// these must stay the same as those.
extern "C" {
struct pw_regex;
struct pw_regex *pw_regex_new(const char *pattern, bool alone, char **cause);
void pw_regex_free(struct pw_regex *re);
bool pw_regex_match(const struct pw_regex *re, const char *s, size_t n);
bool pw_regex_replace(const struct pw_regex *re, const char *s, const char *tpl, char **out);
}

// The compiled program's memory (RE2's max_mem): RE2's own default, room for
// an alternation of thousands of values, refused with an error beyond.
#define PW_REGEX_MAX_MEM (8 << 20)

// Shapes of pattern matched without running RE2, as Prometheus' own
// FastRegexMatcher spares Go's regexp: what dashboards write most.
enum shape {
	SHAPE_REGEX,  // anything else: RE2
	SHAPE_SET,    // literals joined by |: "济南|青岛|烟台", "x|" (one is empty)
	SHAPE_PREFIX, // a literal then .*: "mr_.*"
	SHAPE_SUFFIX, // .* then a literal: ".*9"
};

struct pw_regex {
	RE2 *re;
	int ngroups; // capturing groups
	enum shape shape;
	std::vector<std::string> lits; // SHAPE_SET: the literals; else the one
};

namespace {

// Go's regexp/syntax error texts for RE2's error codes, so a refusal reads
// as Prometheus' does.
const char *go_error_text(RE2::ErrorCode c)
{
	switch (c) {
	case RE2::ErrorBadEscape: return "invalid escape sequence";
	case RE2::ErrorBadCharClass: return "invalid character class";
	case RE2::ErrorBadCharRange: return "invalid character class range";
	case RE2::ErrorMissingBracket: return "missing closing ]";
	case RE2::ErrorMissingParen: return "missing closing )";
	case RE2::ErrorUnexpectedParen: return "unexpected )";
	case RE2::ErrorTrailingBackslash: return "trailing backslash at end of expression";
	case RE2::ErrorRepeatArgument: return "missing argument to repetition operator";
	case RE2::ErrorRepeatSize: return "invalid repeat count";
	case RE2::ErrorRepeatOp: return "invalid nested repetition operator";
	case RE2::ErrorBadPerlOp: return "invalid or unsupported Perl syntax";
	case RE2::ErrorBadUTF8: return "invalid UTF-8";
	case RE2::ErrorBadNamedCapture: return "invalid named capture";
	case RE2::ErrorPatternTooLarge: return "expression too large";
	default: return "regexp/syntax: internal error";
	}
}

char *dup_error(const std::string &s)
{
	char *p = static_cast<char *>(malloc(s.size() + 1));
	if (!p)
		abort();
	memcpy(p, s.c_str(), s.size() + 1);
	return p;
}

// What RE2 accepts and Go's regexp refuses: \C (any single byte, which
// would cut UTF-8 apart). Outside \Q...\E and wherever it stands (RE2
// refuses it inside a class anyway). Returns the offending text or "".
std::string go_only_refusal(const char *p)
{
	for (size_t i = 0; p[i]; i++) {
		if (p[i] != '\\')
			continue;
		if (p[i + 1] == 'Q') { // literal text up to \E or the end
			const char *e = strstr(p + i + 2, "\\E");
			if (!e)
				return "";
			i = (size_t)(e - p) + 1;
			continue;
		}
		if (p[i + 1] == 'C')
			return "\\C";
		if (p[i + 1])
			i++;
	}
	return "";
}

// Go's unicode.IsLetter || unicode.IsDigit || '_' for a name in a
// replacement template: one RE2 with Unicode classes, compiled once.
const RE2 &name_re()
{
	static const RE2 re("[\\p{L}\\p{Nd}_]+");
	return re;
}

// Go's regexp.Expand: $1, ${1}, $name, ${name}, $$; a malformed $ is kept.
void expand(std::string &dst, const pw_regex *rx, const char *tpl, const re2::StringPiece *m,
	    int nm)
{
	const std::map<std::string, int> &names = rx->re->NamedCapturingGroups();
	re2::StringPiece t(tpl);
	while (!t.empty()) {
		size_t d = t.find('$');
		if (d == re2::StringPiece::npos)
			break;
		dst.append(t.data(), d);
		t.remove_prefix(d + 1);
		if (!t.empty() && t[0] == '$') {
			dst.push_back('$');
			t.remove_prefix(1);
			continue;
		}
		re2::StringPiece s = t, name;
		bool brace = !s.empty() && s[0] == '{';
		if (brace)
			s.remove_prefix(1);
		re2::StringPiece got;
		if (!name_re().Match(s, 0, s.size(), RE2::ANCHOR_START, &got, 1) ||
		    (brace && (got.size() >= s.size() || s[got.size()] != '}'))) {
			dst.push_back('$'); // malformed: the $ as text
			continue;
		}
		name = got;
		s.remove_prefix(got.size() + (brace ? 1 : 0));
		t = s;
		long num = 0;
		for (size_t i = 0; i < name.size(); i++) {
			if (name[i] < '0' || name[i] > '9' || num >= 100000000) {
				num = -1;
				break;
			}
			num = num * 10 + (name[i] - '0');
		}
		if (name[0] == '0' && name.size() > 1)
			num = -1; // no leading zeros
		if (num < 0) {
			auto it = names.find(std::string(name.data(), name.size()));
			num = it == names.end() ? -1 : it->second;
		}
		if (num >= 0 && num < nm && m[num].data() != nullptr)
			dst.append(m[num].data(), m[num].size());
	}
	dst.append(t.data(), t.size());
}

// Is c plain text in Go's syntax outside a class? (UTF-8 bytes of other
// characters are.)
bool plain(char c)
{
	return !strchr("\\.+*?()|[]{}^$", c);
}

// The pattern's shape (pw_regex's comment), from the text as written.
void find_shape(pw_regex *r, const std::string &p)
{
	r->shape = SHAPE_REGEX;
	bool all_plain = true;
	for (char c : p)
		if (c != '|' && !plain(c))
			all_plain = false;
	if (all_plain) {
		size_t start = 0;
		for (;;) {
			size_t bar = p.find('|', start);
			r->lits.push_back(p.substr(start, bar == std::string::npos ? bar : bar - start));
			if (bar == std::string::npos)
				break;
			start = bar + 1;
		}
		// a few: a comparison each; many: RE2's DFA is faster
		if (r->lits.size() <= 16)
			r->shape = SHAPE_SET;
		else
			r->lits.clear();
		return;
	}
	auto plain_text = [](const std::string &t) {
		for (char c : t)
			if (!plain(c))
				return false;
		return true;
	};
	if (p.size() >= 2 && p.compare(p.size() - 2, 2, ".*") == 0 &&
	    plain_text(p.substr(0, p.size() - 2))) {
		r->shape = SHAPE_PREFIX;
		r->lits.push_back(p.substr(0, p.size() - 2));
	} else if (p.size() >= 2 && p.compare(0, 2, ".*") == 0 && plain_text(p.substr(2))) {
		r->shape = SHAPE_SUFFIX;
		r->lits.push_back(p.substr(2));
	}
}

// Go's words for why RE2 refused re (its pattern being text).
std::string refusal(const RE2 &re, const std::string &text)
{
	std::string arg = re.error_arg();
	if (re.error_code() == RE2::ErrorPatternTooLarge || arg.empty())
		arg = text;
	std::string msg = std::string("error parsing regexp: ") + go_error_text(re.error_code()) +
			  ": `" + arg + "`";
	if (re.error_code() == RE2::ErrorPatternTooLarge)
		msg += " (its compiled program needs more than " +
		       std::to_string(PW_REGEX_MAX_MEM >> 20) + " MiB)";
	return msg;
}

} // namespace

extern "C" struct pw_regex *pw_regex_new(const char *pattern, bool alone, char **cause)
{
	try {
		std::string wrapped = std::string("^(?:") + pattern + ")$";
		std::string bad = go_only_refusal(pattern);
		if (!bad.empty()) {
			if (cause)
				*cause = dup_error("error parsing regexp: invalid escape sequence: `" +
						   bad + "`");
			return nullptr;
		}
		RE2::Options o;
		o.set_log_errors(false);
		o.set_max_mem(PW_REGEX_MAX_MEM);
		RE2 *re = new RE2(wrapped, o);
		if (!re->ok()) {
			if (cause)
				*cause = dup_error(refusal(*re, wrapped));
			delete re;
			return nullptr;
		}
		if (alone) {
			// Prometheus' label matchers also parse the pattern by
			// itself (for their literal prefix): "a)|(b" compiles
			// pasted in, but is refused ("unexpected )")
			RE2::Options ao = o;
			ao.set_never_capture(true);
			RE2 raw(pattern, ao);
			if (!raw.ok()) {
				if (cause)
					*cause = dup_error(refusal(raw, pattern));
				delete re;
				return nullptr;
			}
		}
		pw_regex *r = new pw_regex;
		r->re = re;
		r->ngroups = re->NumberOfCapturingGroups();
		find_shape(r, pattern);
		return r;
	} catch (const std::bad_alloc &) {
		abort(); // as xmalloc does
	}
}

extern "C" void pw_regex_free(struct pw_regex *re)
{
	if (!re)
		return;
	delete re->re;
	delete re;
}

extern "C" bool pw_regex_match(const struct pw_regex *re, const char *s, size_t n)
{
	// . is any character but a newline, in Go as in RE2
	switch (re->shape) {
	case SHAPE_SET:
		for (const std::string &l : re->lits)
			if (l.size() == n && memcmp(l.data(), s, n) == 0)
				return true;
		return false;
	case SHAPE_PREFIX: {
		const std::string &l = re->lits[0];
		return n >= l.size() && memcmp(l.data(), s, l.size()) == 0 &&
		       !memchr(s + l.size(), '\n', n - l.size());
	}
	case SHAPE_SUFFIX: {
		const std::string &l = re->lits[0];
		return n >= l.size() && memcmp(l.data(), s + n - l.size(), l.size()) == 0 &&
		       !memchr(s, '\n', n - l.size());
	}
	case SHAPE_REGEX: break;
	}
	try {
		return re->re->Match(re2::StringPiece(s, n), 0, n, RE2::UNANCHORED, nullptr, 0);
	} catch (const std::bad_alloc &) {
		abort();
	}
}

extern "C" bool pw_regex_replace(const struct pw_regex *re, const char *s, const char *tpl,
				 char **out)
{
	try {
		size_t n = strlen(s);
		std::vector<re2::StringPiece> m(static_cast<size_t>(re->ngroups) + 1);
		if (!re->re->Match(re2::StringPiece(s, n), 0, n, RE2::UNANCHORED, m.data(),
				   static_cast<int>(m.size())))
			return false;
		std::string dst;
		expand(dst, re, tpl, m.data(), static_cast<int>(m.size()));
		*out = dup_error(dst);
		return true;
	} catch (const std::bad_alloc &) {
		abort();
	}
}
