/* Configure-time probe (cmake/VowBackends.cmake): prints libev's recommended backends as
 * a decimal bit mask (select=1, poll=2, epoll=4, kqueue=8, ...). */
#include <ev.h>
#include <stdio.h>

int main(void) {
    printf("%u\n", ev_recommended_backends());
    return 0;
}
