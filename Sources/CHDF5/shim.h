// libhdf5 (serial). HDF5's predefined type ids (H5T_NATIVE_FLOAT, ...) and H5P_DEFAULT-style ids are
// macros that call H5open() and read globals; Swift cannot import them, so each has a tiny inline getter.
#include <hdf5.h>
#include <stdint.h>

static inline hid_t tsr_t_native_int8(void)   { return H5T_NATIVE_INT8; }
static inline hid_t tsr_t_native_uint8(void)  { return H5T_NATIVE_UINT8; }
static inline hid_t tsr_t_native_int16(void)  { return H5T_NATIVE_INT16; }
static inline hid_t tsr_t_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t tsr_t_native_int32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t tsr_t_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t tsr_t_native_int64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t tsr_t_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t tsr_t_native_float(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t tsr_t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t tsr_t_native_hbool(void)  { return H5T_NATIVE_HBOOL; }
static inline hid_t tsr_t_c_s1(void)          { return H5T_C_S1; }
static inline hid_t tsr_t_std_ref_obj(void)   { return H5T_STD_REF_OBJ; }
static inline hid_t tsr_t_std_i8le(void)      { return H5T_STD_I8LE; }
static inline hid_t tsr_t_std_i32le(void)     { return H5T_STD_I32LE; }
static inline hid_t tsr_t_std_i64le(void)     { return H5T_STD_I64LE; }
static inline hid_t tsr_t_std_u64le(void)     { return H5T_STD_U64LE; }
static inline hid_t tsr_t_ieee_f32le(void)    { return H5T_IEEE_F32LE; }
static inline hid_t tsr_t_ieee_f64le(void)    { return H5T_IEEE_F64LE; }
static inline hid_t tsr_p_default(void)       { return H5P_DEFAULT; }
static inline hid_t tsr_p_file_access(void)   { return H5P_FILE_ACCESS; }
static inline hid_t tsr_p_dataset_create(void){ return H5P_DATASET_CREATE; }
static inline hid_t tsr_p_link_create(void)   { return H5P_LINK_CREATE; }
static inline hid_t tsr_s_all(void)           { return H5S_ALL; }
static inline hid_t tsr_e_default(void)       { return H5E_DEFAULT; }
static inline size_t tsr_t_variable(void)     { return H5T_VARIABLE; }
static inline unsigned tsr_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned tsr_f_acc_trunc(void)  { return H5F_ACC_TRUNC; }
static inline unsigned tsr_f_acc_rdwr(void)   { return H5F_ACC_RDWR; }

/// Silences HDF5's default error printer: errors are read from the stack and reported as typed Swift errors.
static inline void tsr_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/// Dereferences an object reference stored in an attribute or dataset (anndata 0.7 categories).
static inline hid_t tsr_deref_object(hid_t obj, const hobj_ref_t *ref) {
    return H5Rdereference2(obj, H5P_DEFAULT, H5R_OBJECT, ref);
}

// A file-access property list whose H5Fclose closes every object still open in the file (H5F_CLOSE_STRONG).
// With the default (weak) degree a file stays open, and locked, until its last group or dataset handle is
// released, so a file renamed into place right after writing could still be locked by the writer.
/* HDF5's own file locks (flock) are off: a child process started while a file is open inherits the
   descriptor and its lock, and a later open of the same file then fails with EAGAIN long after we closed
   it. We never share a file being written: writers write a temporary file and rename it into place. */
static inline hid_t tsr_fapl_close_strong(void) {
    static hid_t fapl = -1;
    if (fapl < 0) {
        fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
        H5Pset_file_locking(fapl, 0, 1);
    }
    return fapl;
}
static inline hid_t tsr_fapl_read(void) {
    static hid_t fapl = -1;
    if (fapl < 0) { fapl = H5Pcreate(H5P_FILE_ACCESS); H5Pset_file_locking(fapl, 0, 1); }
    return fapl;
}
