/* version.h - mlpd's version: `mlpd --version`, the start-up log and
 * /metrics' mlpd_build_info. Semantic versioning; bumped with each release. */
#ifndef MLPD_VERSION_H
#define MLPD_VERSION_H

#define MLPD_VERSION "0.3.0"

#endif /* MLPD_VERSION_H */
