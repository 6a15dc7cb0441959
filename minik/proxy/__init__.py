"""minik-proxy: turns Services + EndpointSlices into forwarding on this host.

The proxy is split the way the problem splits:

``proxier``          the part every mode shares: informers, the change tracker, the
                     rate-limited sync loop, metrics and health, around one backend;
``model``            what must be forwarded — pure data built from Service/EndpointSlice
                     dicts (:func:`~minik.proxy.model.build_model`), the traffic-policy
                     decisions every mode shares (:func:`~minik.proxy.model.plan_traffic`),
                     and the :class:`~minik.proxy.model.ChangeTracker` that tells a sync
                     which service ports changed since the last one;
``iptables``         renders upstream kube-proxy's KUBE-SERVICES/KUBE-SVC/KUBE-SEP layout,
``iptables_applier`` writes it with ``iptables-restore --noflush``, only the chains that changed;
``nftables``         renders one table of our own with verdict maps,
``nftables_applier`` replaces it once, then applies element/chain deltas with ``nft -f``;
``userspace``        asyncio TCP/UDP relays per service port + the iptables REDIRECTs to them;
``schedulers``       the six IPVS schedulers (rr, lc, dh, sh, sed, nq) the relays use;
``ipvs``             IPVS detection, the fallback to iptables, ipvsadm rendering;
``safety``           the trap that keeps service addresses on this host before any rule exists;
``hostexec``         running iptables/nft/ip (optionally inside a network namespace).

Three levels, three names.  The **proxier** (:class:`~minik.proxy.proxier.Proxier`) decides
*when* to sync; it drives one **backend** per mode (:class:`~minik.proxy.proxier.RuleBackend`
for iptables and nftables, :class:`~minik.proxy.proxier.UserspaceBackend`), the asynchronous
seam the sync loop sees; each backend owns its mode's **applier**
(:class:`~minik.proxy.iptables_applier.IptablesApplier`,
:class:`~minik.proxy.nftables_applier.NftablesApplier`,
:class:`~minik.proxy.userspace.UserspaceApplier`), the one object that writes the kernel
(or, in userspace mode, also runs the relays).  Renderers (``iptables``, ``nftables``) are
pure: model in, rule text out.

Each module's docstring follows a packet through its mode.
"""
