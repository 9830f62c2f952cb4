/* Found only through the RUNPATH of libmp_relocs_target.so. */
int
relocs_dep_answer(void)
{
    return 42;
}
