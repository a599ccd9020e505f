// json-c for Swift. The library's own headers import cleanly; this file only
// names them in one place so that the module map stays independent of the
// include path layout (pkg-config adds -I/usr/include/json-c).
#ifndef GENIDD_CJSONC_SHIM_H
#define GENIDD_CJSONC_SHIM_H

#include <json-c/json.h>

#endif
