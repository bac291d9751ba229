/* Must not compile: the HTTP layer reaches the store. */
#include "http.h"
#include "store.h"
