/* Must not compile: the domain reaches up into HTTP. */
#include "seal.h"
#include "http.h"
