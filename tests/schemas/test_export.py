from schemas.export import EXPORT_DIR, rendered


def test_every_export_is_current():
    stale = [name for name, content in rendered().items() if not (EXPORT_DIR / name).is_file() or (EXPORT_DIR / name).read_bytes() != content]
    assert not stale, f"run `python -m schemas.export`: stale {stale}"
