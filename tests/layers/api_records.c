/* Must compile: a handler sees the records (and the domain). */
#include "api.h"
#include "seal.h"
#include "store_types.h"
