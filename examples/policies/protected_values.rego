# Values nobody changes through this tool: the DNS servers of coredns, and (a
# warning) the autoscaler's node ceiling in production. A protected path covers
# everything under it (custom.upstream_nameservers[0]).
package main

import rego.v1

protected := {"coredns": {"custom.upstream_nameservers"}}

protected_in_prod := {"autoscaler": {"custom.maxNodesTotal"}}

# The value paths a change touches: values before and after, and sensitive ones
# (named without their values).
touched(rc) := union({
	object.keys(object.get(rc.change, ["before", "values"], {})),
	object.keys(object.get(rc.change, ["after", "values"], {})),
	{p | some p in rc.change.sensitive},
})

covers(path, protected_path) if path == protected_path

covers(path, protected_path) if startswith(path, concat("", [protected_path, "."]))

covers(path, protected_path) if startswith(path, concat("", [protected_path, "["]))

# Each rule looks its add-on up first: most changes are of add-ons with nothing
# protected, and those stop there.
deny_protected_value contains msg if {
	some rc in input.resource_changes
	paths := protected[rc.type]
	rc.change.before != null
	some path in touched(rc)
	some p in paths
	covers(path, p)
	msg := sprintf("%s: %s is protected and may not change", [rc.address, path])
}

warn_protected_in_prod contains msg if {
	some rc in input.resource_changes
	paths := protected_in_prod[rc.type]
	rc.change.before != null
	endswith(rc.cluster.name, "-prod")
	some path in touched(rc)
	some p in paths
	covers(path, p)
	msg := sprintf("%s: %s changes in production: check the node quota first", [rc.address, path])
}
