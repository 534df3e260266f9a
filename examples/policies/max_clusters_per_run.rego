# At most 20 clusters change in one run: a bigger change goes out in smaller
# plans (--cluster) or through a rollout, not all at once.
package main

import rego.v1

max_clusters := 20

changed_clusters := {rc.cluster.name |
	some rc in input.resource_changes
	not "no-op" in rc.change.actions
}

deny_too_many_clusters contains msg if {
	count(changed_clusters) > max_clusters
	msg := sprintf("%d clusters would change in one run (at most %d)",
		[count(changed_clusters), max_clusters])
}
