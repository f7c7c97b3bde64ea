"""The structure the project keeps: layers that import one way, one registry of
architectures (no arch branches elsewhere), slugs that tell different designs apart, presets
instead of configs spelled out again."""

from __future__ import annotations

import ast
import contextlib
import re
from pathlib import Path

import pytest

from lutcore.hw.arch import REGISTRY
from lutcore.hw.config import PARAMETERS, ConfigError, tile_config
from lutcore.hw.emit import part_name, part_rtlil
from lutcore.hw.presets import PRESETS
from lutcore.sim.golden import TILE_RESULTS

#: what each layer may import (besides itself and the ``lutcore`` root's version)
ALLOWED = {
    "lutcore.base": set(),
    "lutcore.hw": {"lutcore.base"},
    "lutcore.sim": {"lutcore.base", "lutcore.hw"},
    "lutcore.synth": {"lutcore.base", "lutcore.hw"},
    # the top: experiments, the CLI, the generated docs
    "lutcore.experiments": {"lutcore.base", "lutcore.hw", "lutcore.sim", "lutcore.synth"},
    "lutcore": {
        "lutcore.base",
        "lutcore.hw",
        "lutcore.sim",
        "lutcore.synth",
        "lutcore.experiments",
    },
}


def _layer(module: str) -> str:
    for name in sorted(ALLOWED, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    raise AssertionError(module)


def _modules():
    """``(module name, path)`` of every lutcore source file."""
    import lutcore.base
    import lutcore.experiments
    import lutcore.hw
    import lutcore.sim
    import lutcore.synth

    yield from (("lutcore." + p.stem, p) for p in Path(lutcore.__file__).parent.glob("*.py"))
    for package in ("base", "hw", "sim", "synth", "experiments"):
        root = Path(getattr(lutcore, package).__file__).parent
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(("lutcore", package, *parts)), path


def _imports(module: str, path: Path):
    """Absolute names of the lutcore modules ``path`` imports (lazy imports included)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("lutcore"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name.startswith("lutcore"):
                yield name


def test_layers_import_one_way():
    against = []
    for module, path in _modules():
        layer = _layer(module)
        for target in _imports(module, path):
            if target == "lutcore":  # the version string
                continue
            other = _layer(target)
            if other != layer and other not in ALLOWED[layer]:
                against.append(f"{module} imports {target} ({layer} -> {other})")
    assert not against, "\n".join(against)


def test_no_arch_branches_outside_the_registry():
    """Code asks a config what it has (``uses_tables``, ``fp_tables``...) or the registry,
    never compares ``arch`` names."""
    pattern = re.compile(r"\.arch\s*(==|!=|in\b|not in\b)|\barch\s*(==|!=)\s*[\"']")
    found = [
        f"{path.name}:{n}: {line.strip()}"
        for module, path in _modules()
        if not module.startswith("lutcore.hw.arch")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, "\n".join(found)


def test_registry_is_complete():
    assert set(TILE_RESULTS) == set(REGISTRY), "a golden model for every arch"
    for name, arch in REGISTRY.items():
        cfg = arch.config()
        assert cfg.arch == name and cfg.to_dict()["arch"] == name
        assert set(cfg.to_dict()) <= set(PARAMETERS)
        assert cfg.parts[0] == "tile"
        assert arch.blocks, name


@pytest.mark.parametrize("name", REGISTRY)
def test_inapplicable_keys_are_refused_by_name(name):
    own = set(REGISTRY[name].config.parameters())
    for key in sorted(set(PARAMETERS) - own):
        value = {"g": 2, "symmetric": True, "read_ports": 1, "pattern_aware": True}.get(key, 1)
        with pytest.raises(ConfigError, match=f"{key} applies to arch .* only"):
            tile_config(name, **{key: value})


def _variants():
    """Small configs of every arch, each differing from its arch's base in one parameter."""
    bases = {
        "lut": dict(M=1, N=2, K=4, max_k=16),
        "mac": dict(M=1, N=2, K=2, max_k=8),
        "fpmac": dict(M=1, N=2, K=2, w_bits=2, planes_per_cycle=2, max_k=8),
        "fplut": dict(M=1, N=2, K=4, group=16, max_k=16),
        "pim": dict(M=1, N=2, K=4, max_k=16),
    }
    # and with FP activations: the converters' names must tell their designs apart too
    fp = {
        "lut_fp": ("lut", dict(M=1, N=2, K=4, max_k=64, act_format="fp16", group=16)),
        "mac_fp": ("mac", dict(M=1, N=2, K=2, max_k=32, act_format="bf16", group=16)),
    }
    changes = {
        "M": 2, "N": 3, "K": 8, "max_k": 32, "pipeline": 2, "g": 2, "symmetric": False,
        "w_bits": 1, "weight_format": "signed", "a_bits": 4, "planes_per_cycle": 2,
        "act_format": "fp16", "act_rounding": "trunc", "group": 8, "out_format": "fp16",
        "read_ports": 2, "pattern_aware": False,
    }  # fmt: skip
    out = []
    for arch, base in [*bases.items(), *fp.values()]:
        out.append(tile_config(arch, **base))
        for key, value in changes.items():
            # not a parameter of the arch, or not valid with the base: no variant
            with contextlib.suppress(ConfigError):
                out.append(tile_config(arch, **(base | {key: value})))
    return out


def test_two_different_designs_never_share_a_name():
    """Over the registry: configs whose designs differ have different names (the slug for
    tiles, the part name for converters). The design is compared as the RTLIL that the
    Verilog is written from (the same content, without a Yosys run per part)."""
    seen: dict[str, tuple[str, str]] = {}
    for cfg in _variants():
        for part in cfg.parts:
            name = part_name(cfg, part)
            body = part_rtlil(cfg, part)
            if name in seen:
                assert seen[name][1] == body, f"{name}: {seen[name][0]} and {cfg.to_dict()}"
            seen[name] = (str(cfg.to_dict()), body)
    assert len(seen) > 40  # the variants name many designs


def test_presets_are_valid_and_named_once():
    slugs = {}
    for name, cfg in PRESETS.items():
        assert cfg.slug not in slugs, f"{name} repeats {slugs.get(cfg.slug)}"
        slugs[cfg.slug] = name
    assert PRESETS["paper"].to_dict() == tile_config("lut").to_dict()


def test_no_test_spells_out_a_shared_configuration():
    """A configuration in two test files belongs in the presets."""
    tests = Path(__file__).parent
    calls: dict[str, set[str]] = {}
    for path in tests.glob("test_*.py"):
        for call in re.findall(r"tile_config\([^()]*\)", path.read_text()):
            calls.setdefault(re.sub(r"\s+", "", call), set()).add(path.name)
    shared = {call: files for call, files in calls.items() if len(files) > 1}
    assert not shared, shared
