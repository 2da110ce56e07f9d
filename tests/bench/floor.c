/* floor.c -- the speed floor: a bare libpcap read loop touching every byte.
 *
 * Spec: pcap savefile format (pcap-savefile(5)) read through libpcap's
 * pcap_next_ex(3PCAP). Reads FILE once, sums every captured byte (so the
 * data really is read, not just mapped) and prints one line:
 *   floor: packets=N bytes=B sum=S seconds=T gbps=G pps=P
 * bytes = captured bytes of all packets; gbps over the file size (what the
 * analyzer is measured against). Exit 0, or 2 when the file can't be read. */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

static double floor_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fputs("usage: floor FILE.pcap\n", stderr);
        return 2;
    }
    struct stat st;
    if (stat(argv[1], &st) != 0) {
        perror(argv[1]);
        return 2;
    }
    double t0 = floor_now();
    pcap_t *pc = pcap_open_offline(argv[1], err);
    if (!pc) {
        fprintf(stderr, "floor: %s: %s\n", argv[1], err);
        return 2;
    }
    struct pcap_pkthdr *h;
    const uint8_t *d;
    uint64_t packets = 0, bytes = 0, sum = 0;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
        packets++;
        bytes += h->caplen;
        for (uint32_t i = 0; i < h->caplen; i++)
            sum += d[i];
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "floor: %s: %s (counted up to there)\n", argv[1], pcap_geterr(pc));
    pcap_close(pc);
    double sec = floor_now() - t0;
    if (sec <= 0.0)
        sec = 1e-9;
    printf("floor: packets=%" PRIu64 " bytes=%" PRIu64 " sum=%" PRIu64
           " seconds=%.6f gbps=%.3f pps=%.0f\n",
           packets, bytes, sum, sec, (double)st.st_size * 8.0 / sec / 1e9,
           (double)packets / sec);
    return 0;
}
