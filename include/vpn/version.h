/* SPDX-License-Identifier: MIT */
#ifndef VPN_VERSION_H
#define VPN_VERSION_H

#define VPN_VERSION "0.1.0"

#endif /* VPN_VERSION_H */
