"""STAND-IN: the Kubernetes release the lab stand-ins pretend to be.

The kubeadm, kubelet and kube-apiserver stand-ins all report this version,
and the lab's stand-in package repository is built for it.  kubectl in that
repository is the real one (Debian's package of the same release).
"""

KUBERNETES_VERSION = "1.36.4"
# pkgs.k8s.io's Debian revision for a release.
PACKAGE_REVISION = "1.1"
STANDIN_BANNER = "STAND-IN (ironstone.k8s lab; not the real Kubernetes binary)"


def minor(version=KUBERNETES_VERSION):
    """'1.36.4' -> 36."""
    return int(version.split(".")[1])


def git_version(version=KUBERNETES_VERSION):
    return "v" + version
