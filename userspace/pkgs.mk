# The pkg-config names of every library the tool links, in one place: the
# tool (userspace/Makefile), the unit tests, the fuzz harnesses and the
# corpus generator (tests/fuzz/mkcorpus.sh reads it with make) all use it.
CRYPTSNAP_PKGS := devmapper libcryptsetup libcrypto blkid json-c inih libcurl libxml-2.0
