"""Fixtures for the Python package tests: ../shared (fixtures, real ViT-Tiny, ImageNet JPEGs),
converted once per session into a temporary folder. Tests needing ../shared skip with a reason."""
import os

import pytest

import pomt

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("POMT_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
# The families pomt runs; the other fixture folders in ../shared are not supported yet.
FAMILIES = ["micro", "deit_tiny", "deit_tiny_distilled_d2", "deit3_micro", "dinov2_reg4_d3", "clip_b16_d3",
            "clip_quickgelu_d3", "gap_d3", "reg4_gap_d3", "siglip_map_d3", "so150m_reg4_map_d2"]
VIT_TINY = "models/vit_tiny_patch16_224.augreg_in21k_ft_in1k"


def shared(rel):
    path = os.path.join(SHARED, rel)
    if not os.path.exists(path):
        pytest.skip("%s is absent (../shared not found: set POMT_SHARED)" % path)
    return path


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """hub folder (relative to ../shared) -> a .pomt converted by pomt.convert, once per session."""
    cache = {}
    out_dir = tmp_path_factory.mktemp("models")

    def get(rel):
        if rel not in cache:
            src = shared(rel)
            out = str(out_dir / (rel.replace("/", "_") + ".pomt"))
            pomt.convert(src, out)
            cache[rel] = out
        return cache[rel]

    return get


@pytest.fixture(scope="session")
def micro(converted):
    return pomt.load(converted("fixtures/micro"), threads=1)
