/* Must not compile: a handler reaches the store. */
#include "api.h"
#include "store_account.h"
