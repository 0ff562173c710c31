// Everything in link_geometry.h is inline (it runs tens of millions of times per plan); this file
// only makes sure the header compiles on its own.
#include "crosslink/linkmodel/link_geometry.h"
