# Add-ons go only to versions the platform team has tested. An add-on missing
# from the list may go to any version.
package main

import rego.v1

tested := {
	"coredns": {"1.28.7", "1.29.4", "1.30.15", "1.30.33"},
	"everest": {"2.3.14", "2.4.7", "2.4.28"},
}

deny_untested_version contains msg if {
	some rc in input.resource_changes
	versions := tested[rc.type]
	rc.change.after != null
	not rc.change.after.version in versions
	# concat, not sprintf's %s, for a computed string (the embedded runtime would quote it)
	msg := concat("", [
		rc.address, ": ", rc.type, " ", rc.change.after.version,
		" is not a tested version (tested: ", concat(", ", sort(versions)), ")",
	])
}
