// Package controllers holds one package per kind of the b2b.partnerops.io API, as cluster-api
// lays its controllers out: partnerinvitation, partneraccesspolicy and graphtenant (GraphTenant
// and ClusterGraphTenant). Its own tests are the integration suite of all of them: a real
// kube-apiserver and etcd, the manager as the operator runs it, and the Graph emulator.
package controllers
