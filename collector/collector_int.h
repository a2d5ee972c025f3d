/*
 * collector_int.h — what the files of collector/ share.
 */
#ifndef PW_COLLECTOR_INT_H
#define PW_COLLECTOR_INT_H

#include <jansson.h>

#include "collector.h"

#endif
