#include <kmem/umem.h>
