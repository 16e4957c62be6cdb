package installer

import (
	"regexp"
	"strings"
)

// credentialWord matches the last segment of an installer key that names a
// credential: passwords, secrets, tokens, access and private keys, API
// keys. A key merely about a key file ("ssh_key_path") does not match.
var credentialWord = regexp.MustCompile(`(password|passwd|passphrase|secret|token|credential|access_?key|private_?key|api_?key)|(^|_)key$`)

// secretTarget is where an installer credential's value goes in katonic:
// a Secret (namespace/name) and its data key, or why nowhere.
type secretTarget struct {
	secret, key, reason string
}

// credentialTargets are the installer credentials katonic has a Secret
// for. Sources: internal/render (keycloak-admin: Keycloak's bootstrap
// admin, Keycloak server guide "Bootstrapping an admin account";
// katonic-registry: the pull secret of Katonic's private chart registry).
var credentialTargets = map[string]secretTarget{
	"keycloak_admin_password": {secret: "keycloak/keycloak-admin", key: "KC_BOOTSTRAP_ADMIN_PASSWORD"},
	"registry_username":       {secret: "flux-system/katonic-registry", key: ".dockerconfigjson"},
	"registry_password":       {secret: "flux-system/katonic-registry", key: ".dockerconfigjson"},
}

// isCredential reports whether the installer key holds a credential, by
// its last segment.
func isCredential(key string) bool {
	last := key[strings.LastIndex(key, ".")+1:]
	if _, ok := credentialTargets[last]; ok {
		return true
	}
	return credentialWord.MatchString(strings.ToLower(last))
}

// credential records it as a credential: reported by key and position,
// never by value, and used by nothing else.
func (c *conv) credential(it *item) {
	c.used[it.key] = true
	c.creds[it.key] = true
	last := it.key[strings.LastIndex(it.key, ".")+1:]
	cr := Credential{Key: it.key, Line: it.line, Column: it.column, Empty: it.empty()}
	if t, ok := credentialTargets[last]; ok {
		cr.Secret, cr.SecretKey = t.secret, t.key
	} else {
		cr.Reason = credentialReason(last)
	}
	c.rep.Credentials = append(c.rep.Credentials, cr)
}

// credentialReason says why a credential has no katonic Secret.
func credentialReason(key string) string {
	k := strings.ToLower(key)
	switch {
	case strings.HasPrefix(k, "managed_db"):
		return "katonic renders the in-cluster PostgreSQL and wires no managed database"
	case strings.HasPrefix(k, "smtp"):
		return "katonic renders no SMTP settings"
	case strings.Contains(k, "tls"):
		return "TLS is taken from Secrets (see README, \"Secrets an environment needs\"): put the certificate's key there"
	case strings.HasPrefix(k, "aws_"), strings.HasPrefix(k, "azure_"), strings.HasPrefix(k, "gcp_"),
		strings.HasPrefix(k, "oci_"), strings.HasPrefix(k, "alibaba_"):
		return "cloud credentials are for creating infrastructure, which katonic does not do"
	}
	return "katonic has no setting that takes it"
}
