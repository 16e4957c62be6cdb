// Package diff compares two rendered katonic output trees object by object and
// classifies the risk of each change: the core of `katonic diff`.
//
// # Input
//
// A Side is one rendered tree: Files, keyed by slash path relative to the
// output directory (as compile.Result.Files and the .katonic-generated
// manifest name them), and optionally the resolved environments
// (compile.Result.Envs[i].Env, keyed by name). Only files under
// clusters/<env>/ and environments/<env>/ ending in .yaml or .yml are read;
// everything else (the .katonic-generated manifest, READMEs, ...) is skipped.
// Every non-empty YAML document of those files must be a Kubernetes object
// (apiVersion, kind and metadata.name); anything else is an error, so a
// change is never silently left out. The one exception is kustomize's own
// configuration (apiVersion kustomize.config.k8s.io/*, kind Kustomization,
// the kustomization.yaml files): it has no metadata.name and is keyed by its
// file path instead. It is compared like any object (a resources: list that
// loses a file is visible), but never flagged "deleted": it is not applied
// to the cluster.
//
// # Pairing and services
//
// Objects are paired by (environment, apiVersion, kind, namespace, name). The
// environment is the second path element. The service (the column of the
// Markdown matrix) is:
//   - "flux" for everything under clusters/<env>/ (the Flux Kustomizations,
//     and flux-system/ when `flux bootstrap` wrote it) and for every
//     kustomization.yaml;
//   - "infrastructure" for everything under environments/<env>/infrastructure/;
//   - otherwise the file name without extension, environments/<env>/<layer>/<service>.yaml.
//
// An object whose file changed but whose content did not is reported as
// changed with the pseudo field "(file)": moving an object between layers
// moves it between Flux Kustomizations.
//
// Field-level changes come from github.com/homeport/dyff (CompareInputFiles
// on the two documents of a pair, with Kubernetes entity detection), whose
// details are flattened into one FieldChange per changed leaf, added or
// removed key, added or removed list entry, or list order change. Paths are
// dot separated (spec.values.primary.nodeSelector); list entries dyff
// identifies by a field are written [field=value] (spec.dependsOn[name=platform]),
// others [index]; keys with dots or brackets are quoted
// (spec.values.service.annotations["service.beta.kubernetes.io/azure-load-balancer-internal"]).
//
// # Secrets
//
// Values under a Secret reference (any key valuesFrom, substituteFrom, or
// ending in secretRef: spec.valuesFrom, spec.decryption.secretRef,
// spec.secretRef, spec.certSecretRef, ...) and under data/stringData of a v1
// Secret are never shown: such a FieldChange has Redacted set, Old and New
// empty, and is printed as "changed". For references, the path is cut at the
// reference key (spec.valuesFrom) so no Secret name leaks through a list
// entry's identifier; changes at the same redacted path are merged into one.
// Added or removed objects carry no FieldChanges, so a new Secret's data is
// never printed either.
//
// # Risk classes
//
// Each Risk has a Class (one of the Class* constants), a Level ("high" or
// "medium") and a Message. The rules, and where they come from:
//
//   - deleted (high): an object removed (every object of a removed
//     environment too). The message names the Flux Kustomization whose
//     spec.path holds the file (the new tree's, else the old one's) and its
//     spec.prune: with prune: true Flux deletes the object from the cluster
//     (Flux kustomize-controller, garbage collection); for a Namespace that
//     means everything in it.
//   - prune (high): a Flux Kustomization's spec.prune changed (kustomize-controller:
//     prune decides whether objects removed from the source are deleted).
//   - chart-major (high): the major version of a chart changed, in a
//     HelmRelease's spec.chart.spec.version or an OCIRepository's spec.ref.tag
//     (SemVer 2.0: a major version may break compatibility), parsed with
//     github.com/Masterminds/semver/v3; versions that do not parse (ranges
//     such as "16.x") are not judged.
//   - node-pool (high, environment level): a node pool of the old
//     environment is gone, or its maxNodes, minNodes, cpu or memoryGiB is
//     lower (seed 000 "Node pool requirements": services are pinned to their
//     pool). Needs Side.Envs on both sides; node pools are not visible in the
//     objects.
//   - exposure (high): the environment's loadBalancer changed between
//     internal and external (Side.Envs, environment level); or a HelmRelease
//     whose spec.values.service (a LoadBalancer Service) gains or loses an
//     internal-load-balancer annotation (the Istio gateway, internal/render
//     gatewayValues; the annotations of AKS, EKS and GKE, legacy ones
//     included). The object rule is skipped in an environment where the
//     environment rule fired, so one change is counted once; it is what
//     catches the change when Side.Envs is not given.
//   - exposure (medium): a public host value that did not exist before,
//     while the new environment's loadBalancer is "external" (Side.Envs).
//   - dns (high): a public host value removed or replaced in a changed
//     object. Host values are the leaves of a key "host", the entries of a
//     "hosts" list, and (HelmRelease values only) a key "domain", Katonic's
//     charts' platform FQDN (internal/render serviceValues); they are read
//     from a HelmRelease's spec.values and an Ingress's spec. In-cluster
//     names (no dot, or ending in .svc or .cluster.local, such as
//     postgres-postgresql.application.svc.cluster.local) are not DNS records
//     and are ignored. A removed object is flagged "deleted" instead.
//   - tls (high): in a changed object, something under a key containing
//     "tls" (any case) removed, or set to an empty value or false; or a
//     removed or replaced subtree that held such a non-empty key (Ingress
//     spec.tls, chart values ingress.tls, ...).
//   - secret-ref (medium): a change under a Secret reference (see Secrets),
//     or a subtree holding one added or removed, in a changed object.
//
// Risks of one object or environment are unique by class and message and
// sorted: high first, then by class and message.
//
// # JSON (schemaVersion 1)
//
// WriteJSON writes the Report as one indented document:
//
//	{
//	  "schemaVersion": 1,
//	  "environments": [               // sorted by name; only environments with changes or risks; [] when none
//	    {
//	      "name": "acme-azure",
//	      "change": "changed",        // "added" | "removed" | "changed"
//	      "risks": [...],             // environment-level risks (node-pool, exposure); omitted when none
//	      "objects": [                // sorted by file, apiVersion, kind, namespace, name; omitted when none
//	        {
//	          "environment": "acme-azure",
//	          "service": "postgres",
//	          "apiVersion": "helm.toolkit.fluxcd.io/v2",
//	          "kind": "HelmRelease",
//	          "namespace": "flux-system",   // omitted when cluster-scoped
//	          "name": "postgres",
//	          "file": "environments/acme-azure/platform/postgres.yaml",  // the new file; the old one when removed
//	          "change": "changed",          // "added" | "removed" | "changed"
//	          "fields": [                   // omitted when none (always for added and removed objects)
//	            {"path": "spec.chart.spec.version", "change": "modified",  // "added" | "removed" | "modified" | "order"
//	             "old": "16.7.0", "new": "17.0.0",                         // one-line YAML; omitted when empty
//	             "redacted": true}                                         // only when the value is hidden
//	          ],
//	          "risks": [{"class": "chart-major", "level": "high", "message": "..."}]  // omitted when none
//	        }
//	      ]
//	    }
//	  ]
//	}
//
// schemaVersion changes only when a field is removed or changes meaning;
// new fields may be added without a change.
//
// # Determinism
//
// The same two sides give the same Report and the same bytes in every
// format: every map is iterated in sorted order, dyff is run with fixed
// options on one document pair at a time, environments compared in
// parallel are kept in name order, and no output carries a time.
//
// # Memory
//
// Compare holds both sides' files (the caller's) and the Report; parsed
// YAML lives only while its environment is compared, so at most
// GOMAXPROCS environments' documents at once.
package diff
