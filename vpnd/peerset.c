/* SPDX-License-Identifier: MIT */
/*
 * A server's user as a peer (see peerset.h).
 */
#include <errno.h>

#include "device.h"
#include "peer.h"
#include "peerset.h"

static int insert_all(struct peer *p, const struct conf_prefix *ips, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ret = allowedips_insert(p->dev->aips, ips[i].family,
					    &ips[i].addr, ips[i].cidr, p);

		if (ret)
			return ret;
	}
	return 0;
}

int peerset_add(struct device *dev, const char *name,
		const uint8_t key[KEY_LEN], const uint8_t *psk,
		const struct conf_prefix *ips, size_t n)
{
	struct peer *p;
	int ret = peer_create(dev, key, &p);

	if (ret)
		return ret;
	p->name = name;
	noise_remote_set_psk(&p->remote, psk);
	ret = insert_all(p, ips, n);
	if (ret)
		peer_remove(p);
	return ret;
}

int peerset_replace_ips(struct peer *p, const struct conf_prefix *ips,
			size_t n)
{
	int ret;

	allowedips_remove_by_peer(p->dev->aips, p);
	ret = insert_all(p, ips, n);
	if (ret)
		peer_remove(p);
	return ret;
}
