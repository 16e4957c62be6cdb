// Package kube pins the control plane's commands for the end-to-end
// harness (kube-apiserver; kube-controller-manager, whose Deployment,
// ReplicaSet, StatefulSet and Job controllers create the pods that Helm
// and Flux wait for; kube-scheduler): the blank imports keep k8s.io/kubernetes' command packages in
// this module's build list, so that `go build k8s.io/kubernetes/cmd/...`
// builds them at the versions of go.mod and go.sum.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
)
