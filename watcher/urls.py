"""URL canonicalisation, so that one article is one row whatever link led to it."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only say where a click came from. Exact names, then prefixes.
_TRACKING_NAMES = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "xtor", "xts", "xtref",
        "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "cmpid",
        "ito", "ocid", "sr_share", "ref_src", "spm", "guccounter", "oly_anon_id",
        "oly_enc_id", "vero_id", "__twitter_impression", "wt.mc_id", "s_cid", "smid",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_", "matomo_", "piwik_")
# Generic names that are tracking only when their value names a channel (?src=rss).
_CHANNEL_PARAMS = frozenset({"src", "ref", "source", "from", "origin", "feed", "channel"})
_CHANNEL_VALUES = frozenset(
    {"rss", "rss2", "atom", "feed", "feeds", "newsletter", "email", "twitter", "facebook",
     "linkedin", "social", "push", "syndication"}
)  # fmt: skip
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MULTI_SLASH = re.compile(r"/{2,}")


def is_tracking_param(name: str, value: str = "") -> bool:
    lowered = name.lower()
    if lowered in _CHANNEL_PARAMS:
        return value.lower() in _CHANNEL_VALUES
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def canonicalize(url: str, base: str | None = None) -> str:
    """Lower-case scheme and host, drop default ports, fragments and tracking parameters.

    >>> canonicalize("HTTPS://Example.COM:443/a//b?utm_source=x&id=3#top")
    'https://example.com/a/b?id=3'
    """
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port if parts.port not in (None, _DEFAULT_PORTS.get(scheme)) else None
    # Built from host and port only: credentials in a link are never part of an
    # article's identity.
    netloc = f"[{host}]" if ":" in host else host
    if port:
        netloc = f"{netloc}:{port}"
    path = _MULTI_SLASH.sub("/", parts.path) or "/"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k, v)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def host_of(url: str) -> str:
    """The host (lower-case) a URL points at, used as the politeness key."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host
