"""The kubelet's smaller parts kept out of podnet/live (at its 20-module limit):
ephemeral containers (:mod:`podnet.live.node.ephemeral`) and a pod whose sandbox
died (:mod:`podnet.live.node.sandbox`)."""
