"""Generated avatars: initials on a colour derived from the username."""
import hashlib


def initials(name: str) -> str:
    words = [w for w in name.replace("_", " ").replace("-", " ").split() if w]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()


def hue(seed: str) -> int:
    return int(hashlib.sha256(seed.lower().encode()).hexdigest()[:4], 16) % 360
