"""``python -m atlasnb prepare --list``: the book's configurations, nothing trained."""

from atlasnb import known_experiment
from atlasnb.__main__ import main
from atlasnb.book import plan


def test_list_prints_every_configuration_and_trains_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ATLASNB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(plan, "BOOK_SEEDS", (0, 1))
    assert main(["prepare", "--scale", "smoke", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 5 * 2 + 1 + len(known_experiment.MANIFOLD_POINTS)
    assert "mnist m=8 seed=1" in lines and "fashion-mnist m=16 seed=0" in lines
    assert "mnist m=8 seed=0 latent_penalty=joint" in lines
    assert "circle m=1 seed=0 latent_dim=1" in lines and "torus m=8 seed=0 latent_dim=2" in lines
    assert len(set(lines)) == len(lines)
    assert not (tmp_path / "runs").exists()
