# Shared by the CGI scripts: who this pod is.
pod_name() { if [ -n "$POD_NAME" ]; then echo "$POD_NAME"; else hostname; fi; }
pod_ip() {
  if [ -n "$POD_IP" ]; then echo "$POD_IP"; return; fi
  ip=$(ip -4 addr show dev eth0 2>/dev/null | awk '/inet /{sub("/.*", "", $2); print $2; exit}')
  if [ -n "$ip" ]; then echo "$ip"; else hostname -i 2>/dev/null | awk '{print $1}'; fi
}
text() { printf 'Content-Type: text/plain\r\n\r\n%s\n' "$1"; }
