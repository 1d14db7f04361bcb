"""The README's profile table says what the roster says (model/profiles.py)."""

from pathlib import Path

from kmemcg.model.profiles import PROFILES

README = Path(__file__).resolve().parent.parent / "README.md"


def _profile_table() -> dict[str, str]:
    """profile -> its 'breaks' cell, from every table headed '| profile | ...'."""
    lines = README.read_text().splitlines()
    rows = {}
    for start, head in enumerate(lines):
        if not head.startswith("| profile |"):
            continue
        header = [c.strip() for c in head.strip("|").split("|")]
        at = header.index("breaks")
        for line in lines[start + 2:]:
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[at]
    return rows


def test_the_readme_lists_every_race_of_the_roster_with_its_verdict():
    """The cache races and the activation races: every profile not checked on the
    counters' own presets has a row, and every row says what the roster says."""
    table = _profile_table()
    races = {p.name for p in PROFILES.values()
             if p.preset not in ("accounting", "hierarchy")}
    assert races <= set(table) <= set(PROFILES)
    for name, breaks in table.items():
        expect = PROFILES[name].expect
        assert breaks.split()[0] == (expect or "none"), name
