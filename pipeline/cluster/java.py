"""Running the clusters' Java programs: the JVM options Java 17 needs, and classpaths of jar folders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pipeline.cluster.processes import ClusterError

# Flink, Spark and Beam reach into the JDK's internals by reflection, which Java 17 refuses unless
# each package is opened; these are the packages Flink's and Spark's own launch scripts open.
_OPENED = (
    "java.base/java.io", "java.base/java.lang", "java.base/java.lang.invoke", "java.base/java.lang.reflect",
    "java.base/java.net", "java.base/java.nio", "java.base/java.text", "java.base/java.time",
    "java.base/java.util", "java.base/java.util.concurrent", "java.base/java.util.concurrent.atomic",
    "java.base/java.util.concurrent.locks", "java.base/sun.nio.ch", "java.base/sun.nio.cs",
    "java.base/sun.security.action", "java.base/sun.util.calendar",
)  # fmt: skip
_EXPORTED = (
    "java.base/sun.net.util", "java.rmi/sun.rmi.registry", "java.security.jgss/sun.security.krb5",
    "jdk.compiler/com.sun.tools.javac.api", "jdk.compiler/com.sun.tools.javac.file",
    "jdk.compiler/com.sun.tools.javac.parser", "jdk.compiler/com.sun.tools.javac.tree",
    "jdk.compiler/com.sun.tools.javac.util",
)  # fmt: skip
JAVA_17_OPTIONS = [
    "-XX:+IgnoreUnrecognizedVMOptions",
    *(f"--add-opens={package}=ALL-UNNAMED" for package in _OPENED),
    *(f"--add-exports={package}=ALL-UNNAMED" for package in _EXPORTED),
]


def classpath(*folders: Path) -> str:
    """Every jar of the folders, in a fixed order."""
    return ":".join(str(jar) for folder in folders for jar in sorted(folder.glob("*.jar")))


def require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ClusterError(
            "Java 17 or newer is needed to run the cluster: apt-get install openjdk-17-jre-headless"
        )
    return java


def run_java(arguments: list[str]) -> str:
    """A short Java program's output (stdout and stderr)."""
    result = subprocess.run([require_java(), *arguments], capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr
