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
// configuration (apiVersion kustomize.config.k8s.io/*, the kustomization.yaml
// files): it is not an object of the cluster, so it is neither listed
// among the objects nor a column of the Markdown matrix. Its changes are
// compared per file and reported in EnvDiff.Files only where the objects do
// not already show them:
//   - a file added or removed with its whole directory is left out; one
//     added to or removed from a directory that keeps other files is
//     listed (kustomize-controller generates a kustomization.yaml taking
//     every manifest of a directory that has none);
//   - a resources entry added for a file or directory new in the tree, or
//     removed together with its file or directory, is left out (the added
//     or removed objects show it); an entry removed while its file is still
//     in the tree is listed with a "deleted" risk, since Flux stops applying
//     that file's objects;
//   - an order change of resources is left out (kustomize-controller
//     applies objects in its own order, by kind, not the list's);
//   - any other field change is listed.
//
// An environment is added or removed when one side has none of its files
// outside clusters/<env>/flux-system/ (which `flux bootstrap` writes and
// katonic leaves alone). Its objects are all listed (JSON), without
// per-object risks beyond exposure; one "environment" risk stands for the
// whole (see Risk classes). The text form folds them into one line that
// counts them by kind, the Markdown form lists them in one collapsed block.
//
// # Pairing and services
//
// Objects are paired by (environment, apiVersion, kind, namespace, name). The
// environment is the second path element. The service (the column of the
// Markdown matrix) is:
//   - "flux" for everything under clusters/<env>/ (the Flux Kustomizations,
//     and flux-system/ when `flux bootstrap` wrote it) and for objects in a
//     file named kustomization.yaml;
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
//   - environment (high): an environment removed. One risk for the whole:
//     clusters/<env>/, the path the cluster's Flux reconciles (flux
//     bootstrap --path), goes with its Flux Kustomizations; the message
//     counts them (by name, with how many have prune: true), the objects and
//     the Namespaces. A Flux still reconciling the path with prune: true
//     (flux bootstrap's default) deletes the Kustomizations, and a Flux
//     Kustomization deleted with prune: true deletes every object it applied
//     (kustomize-controller, garbage collection); with nothing at the path,
//     reconciliation fails (path not found).
//   - environment (medium): an environment added: a new cluster root whose
//     Flux installs every object of it; worth a look that it is the
//     intended cluster, not a danger to existing ones.
//   - deleted (high): an object removed from a changed environment. The
//     message names the Flux Kustomization whose spec.path holds the file
//     (the new tree's, else the old one's) and its spec.prune: with prune:
//     true Flux deletes the object from the cluster (Flux
//     kustomize-controller, garbage collection); for a Namespace that
//     means everything in it. Also a kustomization.yaml resources entry
//     dropped while its file stays (see Input).
//   - prune (high): a Flux Kustomization's spec.prune changed (kustomize-controller:
//     prune decides whether objects removed from the source are deleted).
//   - chart-major (high): the major version of a chart changed, in a
//     HelmRelease's spec.chart.spec.version or in spec.ref.tag or
//     spec.ref.semver of an OCIRepository that serves a chart (a HelmRelease
//     of the environment names it in spec.chartRef, or its layerSelector
//     selects the Helm chart layer) (SemVer 2.0: a major version may break
//     compatibility), parsed with github.com/Masterminds/semver/v3, the
//     library Flux uses. A range (spec.ref.semver, or a version range in a
//     HelmRelease) is judged by the majors it admits: major m when it
//     admits m.0.0, a version written in it or the next patch of one, for m
//     up to one above the highest major written (an open range admits the
//     next major). The risk fires when the new version admits a major the
//     old one did not; versions that parse as neither (branches, digests)
//     are not judged.
//   - source-major (high): the same, for a GitRepository's spec.ref.tag or
//     spec.ref.semver, or an OCIRepository that serves no chart (manifests):
//     the message names the Flux Kustomizations whose spec.sourceRef is the
//     source (Kubeflow Pipelines' manifests, katonic-domain.md).
//   - crds (high or medium): a chart version changed (as for chart-major,
//     exact versions only) for a chart that ships CRDs. How it ships them
//     comes from katonic's catalog (internal/catalog Chart.CRDs, read from
//     the real charts; the pin of the new version, else the newest pin of
//     the chart, which the message names); charts the catalog has not read
//     are not judged. Helm installs CRDs of a crds/ directory and never
//     upgrades them; Flux's HelmRelease spec.upgrade.crds (Skip when unset,
//     Create, CreateReplace) decides on upgrade. High when the chart moves
//     its CRDs from crds/ to templates (Helm's release ownership check
//     refuses the CRDs it created without the label
//     app.kubernetes.io/managed-by=Helm and the meta.helm.sh/release-name
//     and release-namespace annotations: Istio's base chart between 1.20
//     and 1.26), or ships them in crds/ and a HelmRelease installing it has
//     spec.upgrade.crds Skip or Create (the cluster keeps the old CRDs);
//     medium when Flux replaces them (CreateReplace) or they are templates
//     (upgraded with the release): CRDs are cluster-wide, and a version the
//     new chart stops serving breaks the objects stored in it.
//   - storage (high or medium): in a changed object, the volume settings:
//     sizes (a "storage" key under resources.requests: PersistentVolumeClaims,
//     StatefulSet volumeClaimTemplates, Prometheus' storageSpec; a "size"
//     key under "persistence" or "persistentVolume": the charts' values
//     katonic renders, docs/sizing.md), storage classes (storageClass,
//     storageClassName, defaultStorageClass) and persistence switches
//     ("enabled" under "persistence"), read in a HelmRelease's spec.values
//     and anywhere in other objects. High: a size shrunk (a
//     PersistentVolumeClaim cannot shrink, StatefulSet volumeClaimTemplates
//     are immutable: Kubernetes API validation), a storage class changed,
//     set or unset (a claim's class is immutable), persistence turned off
//     (data in an emptyDir); a StorageClass whose parameters, provisioner,
//     reclaimPolicy or volumeBindingMode changed (immutable: the apply
//     fails). Medium: a size grown (claims expand only where the class
//     allows volume expansion; StatefulSets still refuse the change), a
//     size set or unset (the chart's default applies), a StorageClass's
//     default-class annotation changed. Sizes are compared as Kubernetes
//     quantities (17Gi equals 17408Mi).
//   - node-pool (high, environment level): a node pool of the old
//     environment is gone, or its maxNodes, minNodes, cpu or memoryGiB is
//     lower (seed 000 "Node pool requirements": services are pinned to their
//     pool), or its derived labels or taints changed (config.NodePool Labels
//     and Taints: a gpu pool's gpuType is its katonic.ai/gpu-type label and
//     taint): nodes keep the labels and taints they were created with. Needs
//     Side.Envs on both sides; node pools are not visible in the objects.
//   - node-pool (object level): a change under a nodeSelector, tolerations
//     or affinity key of a changed object (pod specs, chart values), one risk
//     per mapping that holds them. High when, against the new environment's
//     pools (Side.Envs), the pods select a pool (katonic.ai/node-pool) it
//     lacks, a GPU type that is not its gpu pool's, or a pool whose taints
//     the tolerations there miss (Kubernetes "Taints and Tolerations"
//     matching); medium otherwise (the pods are recreated elsewhere).
//     Placement inside a Flux Kustomization's spec.patches (YAML in a
//     string) is shown as a field change, not judged.
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
// # Sides and attribution
//
// Compare does not know where its sides come from; the caller says so in
// Report.Mode, Base, Head and Note, which the outputs print as a header.
// `katonic diff` sets:
//   - ModeCommitted (--base REV, the default): the old side is the rendered
//     output committed at REV (the files its .katonic-generated lists, with
//     the bytes committed, whoever wrote them), the new side the working
//     tree rendered by this katonic: what the cluster gets. A change of
//     katonic itself shows here, though no configuration changed.
//   - ModeSameKatonic (--base REV --same-katonic, or a REV without a
//     committed manifest, which Note then says): both sides rendered by
//     this katonic, the configuration at REV and the working tree.
//   - ModeDirectories (--from DIR --to DIR).
//
// Side.Envs of the old side are always the old configuration resolved by
// this katonic, so node-pool and exposure rules compare configurations in
// every mode.
//
// Attribution (Options.OldRendered: the old configuration rendered by this
// katonic, R) tells a change of katonic from a change of the configuration,
// object by object, and so for each kustomize file (EnvDiff.Files) and each
// added or removed environment. For an object or a kustomize file reported
// changed between the old side O and the new side N:
//   - origin "katonic" when R's object is N's: this katonic renders the old
//     configuration as the new one, so the configuration did not change
//     the object; O was rendered by another katonic (or edited, or not
//     rendered again after a change);
//   - origin "configuration" when R's object is O's: this katonic renders
//     the old configuration as committed, so the configuration changed it;
//   - origin "both" otherwise.
//
// "Is" is Compare's own test: both absent, or the same file and no dyff
// difference. The granularity is the object: an object with both causes is
// "both" and its field changes are not split (a field path is not a stable
// enough key across two dyff runs to claim a field is katonic's alone). A
// kustomize file is judged whole, though only the changes the objects do
// not show are listed.
//
// An added or removed environment has an origin too: "katonic" when R has
// the environment as N has it (present, or absent), so the configuration
// did not add or remove it: a stale environment left in the committed
// output, or one never rendered there; "configuration" otherwise. Its
// environment risk carries that origin; its objects carry their own, and
// the text and Markdown forms mark those whose origin is not the
// environment's. The other environment-level risks (node-pool, exposure)
// have no origin; they compare configurations.
// Every change counts for the exit code and --fail-on whatever its origin:
// the cluster gets it all the same. When the old configuration does not
// render with this katonic, the caller sets Attribution "unavailable" and a
// Note, and passes no Side.Envs (so node pools are not compared).
//
// # JSON (schemaVersion 1)
//
// WriteJSON writes the Report as one indented document:
//
//	{
//	  "schemaVersion": 1,
//	  "mode": "committed",            // "committed" | "same-katonic" | "directories"; omitted when the caller did not say
//	  "base": "origin/main",          // the revision (committed, same-katonic) or the --from directory; omitted when unset
//	  "head": "out",                  // the --to directory; omitted for the working tree
//	  "attribution": "done",          // "done" (changes carry an origin) | "unavailable"; omitted when not attempted
//	  "note": "...",                  // a sentence about how the sides were made; omitted when none
//	  "shard": "2/4",                 // the shard of the environments the report covers; omitted for all of them
//	  "environments": [               // sorted by name; only environments with changes or risks; [] when none
//	    {
//	      "name": "acme-azure",
//	      "change": "changed",        // "added" | "removed" | "changed"
//	      "origin": "configuration",  // "katonic" | "configuration"; only for an added or removed environment, with attribution "done"
//	      "risks": [...],             // environment-level risks (environment, node-pool, exposure); omitted when none
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
//	          "risks": [{"class": "chart-major", "level": "high", "message": "..."}], // omitted when none
//	          "origin": "katonic"           // "katonic" | "configuration" | "both"; only with attribution "done"
//	        }
//	      ],
//	      "files": [                  // kustomization.yaml changes the objects do not show; omitted when none
//	        {
//	          "file": "environments/acme-azure/platform/kustomization.yaml",
//	          "change": "changed",          // "added" | "removed" | "changed"
//	          "fields": [{"path": "resources", "change": "removed", "old": "redis.yaml"}],  // omitted when none
//	          "risks": [{"class": "deleted", "level": "high", "message": "..."}],           // omitted when none
//	          "origin": "katonic"           // "katonic" | "configuration" | "both"; only with attribution "done"
//	        }
//	      ]
//	    }
//	  ]
//	}
//
// A risk's class is one of deleted, prune, chart-major, source-major,
// crds, storage, node-pool, exposure, dns, tls, secret-ref and environment
// (the Class* constants). "objects" of an added or removed environment
// hold every object of it.
//
// schemaVersion changes only when a field is removed or changes meaning;
// new fields may be added without a change. files, and mode, base, head,
// attribution, note, shard and origin (of objects, kustomize files and
// added or removed environments), were added so, within schemaVersion 1:
// every field a reader of version 1 knows keeps its meaning (a change
// between the old and the new side), and what the old side is, which `katonic diff --base`
// changed from a render of the base configuration to the base's committed
// output, was never part of the document; mode now names it. A reader that
// needs the former comparison passes --same-katonic and may check
// "mode": "same-katonic".
//
// # Shards
//
// A fleet too large for one CI job is diffed in N jobs, each over one
// shard of the environments (`katonic diff --shard K/N`, the split of
// `katonic render --shard`: FNV-1a of the name, so an environment removed
// since the base falls in one shard too), each writing its report as JSON
// with Report.Shard "K/N". ReadJSON reads them back (refusing another
// schemaVersion) and Merge joins them into the report one diff of the
// whole fleet writes: environments are compared one at a time, and all an
// environment's report holds is in its EnvDiff (its risks, origin, objects
// and kustomize files), so the union of the shards' environments, in name
// order, is that report. Merge
// refuses what cannot be the shards of one diff: a report of no shard,
// another N, a shard twice or missing, other sides (mode, base, head), an
// environment in two reports.
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
