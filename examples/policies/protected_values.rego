# Values nobody changes through this tool: the DNS servers of coredns, and the
# autoscaler's node ceiling in production. A path names a value
# (custom.upstream_nameservers) and everything under it.
package main

import rego.v1

protected := {
	"coredns": {"custom.upstream_nameservers"},
}

protected_in_prod := {
	"autoscaler": {"custom.maxNodesTotal"},
}

covers(path, protected_path) if path == protected_path

covers(path, protected_path) if startswith(path, concat("", [protected_path, "."]))

covers(path, protected_path) if startswith(path, concat("", [protected_path, "["]))

deny_protected_value contains msg if {
	some rc in input.resource_changes
	rc.change.before != null
	some entry in rc.change.diff
	some p in protected[rc.type]
	covers(entry.path, p)
	msg := sprintf("%s: %s is protected and may not change", [rc.address, entry.path])
}

warn_protected_in_prod contains msg if {
	some rc in input.resource_changes
	rc.change.before != null
	endswith(rc.cluster.name, "-prod")
	some entry in rc.change.diff
	some p in protected_in_prod[rc.type]
	covers(entry.path, p)
	msg := sprintf("%s: %s changes in production: check the node quota first",
		[rc.address, entry.path])
}
