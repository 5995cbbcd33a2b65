import pyro_protocol


def test_version():
    assert pyro_protocol.__version__ == "0.1.0"
