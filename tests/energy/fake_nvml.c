/* A stand-in for libnvidia-ml.so: exports the NVML C symbols greensed resolves with dlopen, with
 * devices scripted by the file named in $FAKE_NVML_CONFIG, re-read on every call so a test can
 * change counters between samples. One device per line:
 *   name uuid pci_bus_id arch energy_mJ power_mW energy_rc
 * Built twice: with FAKE_NVML_V2 it exports the _v2 entry points, without it only the unversioned
 * ones, so both symbol-resolution paths are exercised. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEV 8
typedef struct {
  char name[64], uuid[64], bus[32];
  unsigned arch;
  unsigned long long energy;
  unsigned power;
  int energy_rc;
} Dev;

static Dev devs[MAX_DEV];
static int n_devs;
static int initialised;

static void load(void) {
  const char* path = getenv("FAKE_NVML_CONFIG");
  n_devs = 0;
  if (!path) return;
  FILE* f = fopen(path, "r");
  if (!f) return;
  while (n_devs < MAX_DEV) {
    Dev* d = &devs[n_devs];
    if (fscanf(f, "%63s %63s %31s %u %llu %u %d", d->name, d->uuid, d->bus, &d->arch, &d->energy,
               &d->power, &d->energy_rc) != 7)
      break;
    ++n_devs;
  }
  fclose(f);
}

static int handle_index(void* h) { return (int)(long)h - 1; }
static int valid(void* h) {
  load();
  return initialised && handle_index(h) >= 0 && handle_index(h) < n_devs;
}

#ifdef FAKE_NVML_V2
#define V2(name) name##_v2
#else
#define V2(name) name
#endif

int V2(nvmlInit)(void) {
  initialised = 1;
  return 0;
}
int nvmlShutdown(void) {
  initialised = 0;
  return 0;
}
const char* nvmlErrorString(int rc) {
  switch (rc) {
    case 0: return "Success";
    case 3: return "Not Supported";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
  }
}
int V2(nvmlDeviceGetCount)(unsigned* n) {
  load();
  *n = (unsigned)n_devs;
  return 0;
}
int V2(nvmlDeviceGetHandleByIndex)(unsigned i, void** h) {
  load();
  if ((int)i >= n_devs) return 2; /* invalid argument */
  *h = (void*)(long)(i + 1);
  return 0;
}
int V2(nvmlDeviceGetHandleByPciBusId)(const char* bus, void** h) {
  load();
  for (int i = 0; i < n_devs; ++i) {
    if (strcasecmp(devs[i].bus, bus) == 0) {
      *h = (void*)(long)(i + 1);
      return 0;
    }
  }
  return 6; /* not found */
}
int nvmlDeviceGetIndex(void* h, unsigned* i) {
  if (!valid(h)) return 2;
  *i = (unsigned)handle_index(h);
  return 0;
}
int nvmlDeviceGetName(void* h, char* buf, unsigned len) {
  if (!valid(h)) return 2;
  snprintf(buf, len, "%s", devs[handle_index(h)].name);
  for (char* c = buf; *c; ++c)
    if (*c == '_') *c = ' ';
  return 0;
}
int nvmlDeviceGetUUID(void* h, char* buf, unsigned len) {
  if (!valid(h)) return 2;
  snprintf(buf, len, "%s", devs[handle_index(h)].uuid);
  return 0;
}
int nvmlDeviceGetArchitecture(void* h, unsigned* arch) {
  if (!valid(h)) return 2;
  *arch = devs[handle_index(h)].arch;
  return 0;
}
int nvmlDeviceGetTotalEnergyConsumption(void* h, unsigned long long* mj) {
  if (!valid(h)) return 2;
  const Dev* d = &devs[handle_index(h)];
  if (d->energy_rc) return d->energy_rc;
  *mj = d->energy;
  return 0;
}
int nvmlDeviceGetPowerUsage(void* h, unsigned* mw) {
  if (!valid(h)) return 2;
  *mw = devs[handle_index(h)].power;
  return 0;
}
typedef struct {
  char busIdLegacy[16];
  unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} PciInfo;
int V2(nvmlDeviceGetPciInfo)(void* h, PciInfo* p) {
  if (!valid(h)) return 2;
  memset(p, 0, sizeof *p);
  snprintf(p->busId, sizeof p->busId, "%s", devs[handle_index(h)].bus);
  return 0;
}
