#!/bin/sh
. /var/www/cgi-bin/lib.sh
text "pod=$(pod_name) ip=$(pod_ip)"
