/* Must not compile: the store is seen through a dialect header. */
#include "seal.h"
#include "db.h"
