"""Checks, before a run starts, that the cluster a Beam preset names is up.

Beam's PortableRunner waits for its job endpoint, and a job whose EXTERNAL worker pool is
missing waits on the cluster, both for minutes and with no word of which address is wrong. A
run against a cluster that is not up should fail in seconds, naming the endpoint, and before
anything is recorded in the metadata store.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.run.beam_options import option_value

# Long enough for a loaded job server to accept a connection, short enough for a person waiting.
CONNECT_TIMEOUT_SECONDS = 5.0


class EndpointUnreachableError(Exception):
    """A job endpoint or worker pool a run needs does not answer."""


def required_endpoints(beam_args: Sequence[str]) -> list[tuple[str, str]]:
    """(what, host:port) of each gRPC service the options need up: the job server, the worker pool."""
    runner = option_value(beam_args, "--runner") or ""
    if not runner.endswith("PortableRunner"):
        return []
    needed = [("Beam job server", option_value(beam_args, "--job_endpoint") or "")]
    if (option_value(beam_args, "--environment_type") or "").upper() == "EXTERNAL":
        needed.append(("Beam worker pool", option_value(beam_args, "--environment_config") or ""))
    return needed


def answers(address: str, timeout: float) -> bool:
    """Whether a gRPC server at host:port accepts a connection within the timeout."""
    import grpc  # a dependency of Beam; only loaded for runs that go to a cluster

    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        return True
    except grpc.FutureTimeoutError:
        return False
    finally:
        channel.close()


def require_reachable(beam_args: Sequence[str], timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Raises EndpointUnreachableError naming the first service of the options that does not answer."""
    for what, address in required_endpoints(beam_args):
        if not answers(address, timeout):
            raise EndpointUnreachableError(
                f"the {what} at {address} does not answer (waited {timeout:.0f} s): start the cluster "
                "(`make flink-up` or `make spark-up`) or point BEAM_JOB_ENDPOINT / BEAM_WORKER_POOL at it; "
                "nothing was run"
            )
