/* Must not compile: the format library reaches the domain. */
#include "ses.h"
#include "seal.h"
