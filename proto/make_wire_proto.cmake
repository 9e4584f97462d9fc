# Writes the protobuf-lite form of an API .proto: the same messages and field numbers (so the
# same wire encoding), another package so both forms can be linked into one program, and
# `optimize_for = LITE_RUNTIME` so the generated code needs only libprotobuf-lite. Services are
# dropped (the lite runtime has no service stubs; the device agent frames calls itself).
# There is one schema in the repository; this copy exists only in the build tree.
#
#   cmake -DSRC=<repository.proto> -DDST=<repository_wire.proto> -DPACKAGE=<mdu.v1>
#         -DWIRE_PACKAGE=<mdu.v1.wire> -P make_wire_proto.cmake
foreach(var SRC DST PACKAGE WIRE_PACKAGE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "make_wire_proto.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${SRC}" text)

# The schema must declare exactly the package we rename, and must not set optimize_for itself.
string(REGEX MATCHALL "\npackage [^;]*;" packages "\n${text}")
if(NOT packages STREQUAL "\npackage ${PACKAGE};")
  message(FATAL_ERROR "${SRC}: expected exactly one `package ${PACKAGE};`, found: ${packages}")
endif()
if(text MATCHES "optimize_for")
  message(FATAL_ERROR "${SRC} sets optimize_for; the lite form would not be derivable")
endif()

# Comments go first: they may contain braces and the words "service" and "package".
string(REGEX REPLACE "//[^\n]*" "" text "${text}")
# `service Name { rpc ...; ... }`: rpc declarations carry no braces in this schema (checked below).
string(REGEX REPLACE "service[ \t\n]+[A-Za-z0-9_]+[ \t\n]*{[^{}]*}" "" text "${text}")
if(text MATCHES "(^|[^A-Za-z0-9_])(service|rpc)[ \t\n]")
  message(FATAL_ERROR "${SRC}: a service could not be removed (rpc with an options block?)")
endif()

string(REPLACE "package ${PACKAGE};"
       "package ${WIRE_PACKAGE};\noption optimize_for = LITE_RUNTIME;" text "${text}")
# Drops the blank lines the removals left behind.
string(REGEX REPLACE "[ \t]+\n" "\n" text "${text}")
string(REGEX REPLACE "\n\n+" "\n" text "${text}")

get_filename_component(in_name "${SRC}" NAME)
set(header "// GENERATED at build time by proto/make_wire_proto.cmake from ${in_name}: do not edit.\n")
string(APPEND header "// The protobuf-lite form (package ${WIRE_PACKAGE}) of package ${PACKAGE}; same wire format.\n")

file(WRITE "${DST}" "${header}${text}")
