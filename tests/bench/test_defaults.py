"""The defaults `reducio bench --help` shows without importing torch name what the benchmarks build."""

from reducio.bench.decode import DecodeVariant
from reducio.bench.defaults import DEFAULT_MODELS, DEFAULT_VARIANTS, PEER_NAMES
from reducio.bench.peers import PEERS


def test_peer_names_are_the_peers_built():
    assert PEER_NAMES == tuple(PEERS)
    assert DEFAULT_MODELS == ("reducio-ft4", *PEERS)


def test_default_decode_variants_parse():
    assert [DecodeVariant.parse(name).name for name in DEFAULT_VARIANTS] == list(DEFAULT_VARIANTS)
