"""Stream URLs: the schemes read through FFmpeg, and masking what is secret in one before it is shown."""

from __future__ import annotations

NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "rtp", "srt", "udp", "tcp", "http", "https")
SECRET_PARAMETERS = ("pass", "pwd", "token", "secret", "key", "auth", "sig")  # query parameters redact() masks


def redact(url: str) -> str:
    """The URL without its password (rtsp://user:***@host/...) or the values of secret-looking query
    parameters (password=***, token=***, ...), for messages and descriptions; the rest as given."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    end = min((found for found in (rest.find(c) for c in "/?#") if found >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}:***@{host}" if at and ":" in userinfo else rest[:end]
    path, question, query = rest[end:].partition("?")
    if question:
        query, hash_, fragment = query.partition("#")
        fields = []
        for field in query.split("&"):
            name, equals, _ = field.partition("=")
            secret = equals and any(word in name.lower() for word in SECRET_PARAMETERS)
            fields.append(f"{name}=***" if secret else field)
        path = f"{path}?{'&'.join(fields)}{hash_}{fragment}"
    return f"{scheme}://{netloc}{path}"


def is_url(spec: str) -> bool:
    scheme, separator, _ = spec.partition("://")
    return bool(separator) and scheme.lower() in NETWORK_SCHEMES
