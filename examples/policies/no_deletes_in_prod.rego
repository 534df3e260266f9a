# No add-on is deleted from a production cluster: a cluster labelled env=prod,
# or named *-prod. Override one run with --accept-policy deny_delete_in_prod.
package main

import rego.v1

production(cluster) if cluster.labels.env == "prod"

production(cluster) if endswith(cluster.name, "-prod")

deny_delete_in_prod contains msg if {
	some rc in input.resource_changes
	"delete" in rc.change.actions
	production(rc.cluster)
	msg := sprintf("%s: deleting an add-on from a production cluster", [rc.address])
}
