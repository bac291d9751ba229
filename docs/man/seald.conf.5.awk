# seald.conf.5.awk - generates the manual page seald.conf(5) (mdoc), so
# that it cannot drift from the code: the keys, their types, defaults and
# ranges come from `seald config-keys --long` (the config table of
# src/conf/config.c), their descriptions from the comments of
# conf/seald.conf.example (which a unit test checks against the table).
#   awk -v date="..." -v version=X -f seald.conf.5.awk KEYS.tsv EXAMPLE
# The page's fixed text is in seald.conf.5.head and seald.conf.5.tail,
# passed as -v head=FILE -v tail=FILE.

function esc(s) {
    gsub(/\\/, "\\e", s)
    return s
}
# One line of prose: a new sentence starts a new line (mdoc style), a line
# starting with a dot or quote is protected.
function prose(s,    n, parts, i, out) {
    s = esc(s)
    n = split(s, parts, /\.  +/)
    out = ""
    for (i = 1; i <= n; i++) {
        if (parts[i] ~ /^[.']/)
            parts[i] = "\\&" parts[i]
        out = out wrap(parts[i]) (i < n ? ".\n" : "")
    }
    return out
}
# Break s at spaces into lines of at most 72 characters (mandoc wants at
# most 80 bytes, and CJK characters take three).
function wrap(s,    out, cut) {
    out = ""
    while (length(s) > 72) {
        cut = 72
        while (cut > 1 && substr(s, cut, 1) != " ")
            cut--
        if (cut <= 1)
            break
        out = out substr(s, 1, cut - 1) "\n"
        s = substr(s, cut + 1)
        if (s ~ /^[.']/)
            s = "\\&" s
    }
    return out s
}
function emit(key, full,    t) {
    if (!(full in type)) {
        printf("seald.conf.5.awk: %s is in the example but not in the "\
               "config table\n", full) > "/dev/stderr"
        failed = 1
        return
    }
    seen[full] = 1
    printf(".It Cm %s Pq Ar %s\n", key, type[full])
    if (text != "") {
        printf("%s\n", text)
        last = key
    } else if (last != "") {
        printf("As for\n.Cm %s\nabove.\n", last)
    }
    if (def[full] == "")
        printf(".Pp\nDefault: empty.\n")
    else
        printf(".Pp\nDefault:\n.Ql %s .\n", esc(def[full]))
    if (range[full] ~ /\.\./) {
        split(range[full], r, /\.\./)
        printf("Range: %s to %s.\n", r[1], r[2])
    } else if (range[full] != "") {
        t = range[full]
        gsub(/\|/, " , ", t)
        printf("One of: %s .\n", t)
    }
    text = ""
}
FNR == NR {                    # the table: key TAB type TAB default TAB range
    split($0, f, "\t")
    type[f[1]] = f[2]; def[f[1]] = f[3]; range[f[1]] = f[4]
    order[++nkeys] = f[1]
    next
}
FNR == 1 {
    while ((getline line < head) > 0) {
        gsub(/@DATE@/, date, line); gsub(/@VERSION@/, version, line)
        print line
    }
}
/^;?\[[a-z._-]+\]$/ {          # a section, or a commented template section
    s = $0; sub(/^;?\[/, "", s); sub(/\]$/, "", s)
    # the named sections, each documented by one commented template
    if (s ~ /^(token|issuer|destination)\./) { sub(/\..*/, "", s); s = s ".*" }
    if (insection) print ".El"
    if (s ~ /\.\*$/)
        printf(".Ss [%s.NAME] section\n", substr(s, 1, length(s) - 2))
    else
        printf(".Ss [%s] section\n", s)
    print ".Bl -tag -width Ds"
    insection = 1; section = s; text = ""; last = ""
    next
}
/^$/ { text = ""; next }
/^;?[a-z0-9_]+ *=/ && insection { # a key, or a commented token key
    k = $0; sub(/^;/, "", k); sub(/ *=.*/, "", k)
    emit(k, section "." k)
    next
}
/^;/ && insection {
    c = $0; sub(/^; ?/, "", c)
    if (c == "") next
    text = text (text == "" ? "" : "\n") prose(c)
    next
}
END {
    if (insection) print ".El"
    while ((getline line < tail) > 0) {
        gsub(/@DATE@/, date, line); gsub(/@VERSION@/, version, line)
        print line
    }
    for (i = 1; i <= nkeys; i++)
        if (!(order[i] in seen)) {
            printf("seald.conf.5.awk: %s is in the config table but not "\
                   "in the example\n", order[i]) > "/dev/stderr"
            failed = 1
        }
    exit failed
}
