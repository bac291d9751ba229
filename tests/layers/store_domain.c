/* Must not compile: the store reaches up into the domain. */
#include "store.h"
#include "audit.h"
