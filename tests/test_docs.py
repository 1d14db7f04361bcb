"""The README's profile table says what the roster says (model/profiles.py)."""

from pathlib import Path

from kmemcg.model.profiles import PROFILES

README = Path(__file__).resolve().parent.parent / "README.md"


def _profile_table() -> dict[str, str]:
    """profile -> its 'breaks' cell, from the table headed '| profile | breaks |'."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| profile | breaks |"))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1]
    return rows


def test_the_readme_lists_every_cache_race_of_the_roster_with_its_verdict():
    table = _profile_table()
    races = {p.name: p for p in PROFILES.values() if p.preset in (None, "destruction")}
    assert set(table) == set(races)
    for name, breaks in table.items():
        expect = races[name].expect
        assert breaks.split()[0] == (expect or "none"), name
