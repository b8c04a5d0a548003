// Proves include/vmkit.h compiles as C++ and links with extern "C" names.
#include <vmkit.h>
#include <cstdio>
int main() {
    vmk_config c = vmk_config_default();
    std::printf("%s\n", c.memory_limit >= VMK_MIN_MEMORY_LIMIT ? "ok" : "bad default");
    return c.memory_limit >= VMK_MIN_MEMORY_LIMIT ? 0 : 1;
}
