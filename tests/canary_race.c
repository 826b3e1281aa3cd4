/* tests/canary_race.c - a planted data race: two threads increment a plain int. Under
 * ThreadSanitizer this must be reported (scripts/tsan.sh fails when it is not), which proves
 * the TSan build and its reporting work. */
#include <pthread.h>
#include <stdio.h>

static int counter; /* the race: no lock, no atomic */

static void *bump(void *arg) {
    (void)arg;
    for (int i = 0; i < 100000; i++) counter++;
    return NULL;
}

int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, bump, NULL);
    pthread_create(&b, NULL, bump, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("%d\n", counter);
    return 0;
}
